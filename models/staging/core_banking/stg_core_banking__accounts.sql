with

source as (

    select * from {{ source_or_empty(
        'core_banking',
        'accounts',
        [
            'account_id',
            'district_id',
            'frequency',
            'open_date',
            'is_orphan'
        ]
    ) }}

),

renamed as (

    select
        cast(account_id as bigint) as account_id,
        cast(district_id as bigint) as district_id,
        cast(frequency as varchar) as statement_frequency,
        cast(open_date as date) as opened_on,
        cast(is_orphan as boolean) as is_orphan_district

    from source

)

select * from renamed
