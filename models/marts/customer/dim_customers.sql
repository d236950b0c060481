with

versions as (

    select * from {{ ref('snap_crm__customers') }}

),

final as (

    select
        cast(dbt_scd_id as varchar) as customer_version_id,
        client_id,
        gender,
        birth_date,
        city,
        street_address,
        marital_status,
        is_head_of_household,
        home_ownership,
        occupation,
        income_band,
        cars_owned,
        client_created_at,
        cast(dbt_valid_from as timestamp) as valid_from,
        cast(dbt_valid_to as timestamp) as valid_to,
        dbt_valid_to is null as is_current

    from versions

)

select * from final
