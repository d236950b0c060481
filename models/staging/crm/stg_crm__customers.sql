with

source as (

    select * from {{ source_or_empty(
        'crm',
        'crm_customers',
        [
            'client_id',
            'first_name',
            'last_name',
            'email',
            'phone',
            'street_address',
            'city',
            'birth_date',
            'gender',
            'home_ownership',
            'occupation',
            'marital_status',
            'is_head_of_household',
            'income_band',
            'cars_owned',
            'client_created_at',
            'updated_at',
            '_ingested_at',
            '_batch_id'
        ]
    ) }}

),

renamed as (

    select
        cast(client_id as bigint) as client_id,
        cast(first_name as varchar) as first_name,
        cast(last_name as varchar) as last_name,
        cast(email as varchar) as email,
        cast(phone as varchar) as phone,
        cast(street_address as varchar) as street_address,
        cast(city as varchar) as city,
        cast(birth_date as date) as birth_date,
        cast(gender as varchar) as gender,
        cast(home_ownership as varchar) as home_ownership,
        cast(occupation as varchar) as occupation,
        cast(marital_status as varchar) as marital_status,
        cast(is_head_of_household as boolean) as is_head_of_household,
        cast(income_band as varchar) as income_band,
        cast(cars_owned as integer) as cars_owned,
        cast(client_created_at as timestamp) as client_created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_ingested_at as timestamp) as ingested_at,
        cast(_batch_id as varchar) as batch_id

    from source

)

select * from renamed
