{{
    config(
        contract={'enforced': true}
    )
}}

with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

age_bands as (

    select * from {{ ref('age_bands') }}

),

as_of as (

    select {{ as_of_date('select max(ingested_at) from ' ~ ref('stg_crm__customers')) }} as as_of_date

),

demographics as (

    select
        customers.client_id,
        as_of.as_of_date,
        {{ completed_years('customers.birth_date', 'as_of.as_of_date') }} as age,
        customers.gender,
        customers.marital_status,
        customers.is_head_of_household,
        customers.home_ownership,
        customers.occupation,
        customers.income_band,
        customers.cars_owned,
        cast(customers.client_created_at as date) as customer_since,
        cast(
            {{ dbt.datediff('cast(customers.client_created_at as date)', 'as_of.as_of_date', 'day') }} as double  -- noqa: LT05
        ) / 365.25 as tenure_years

    from customers
    cross join as_of

),

final as (

    select
        demographics.client_id,
        demographics.as_of_date,
        -- demographic
        cast(demographics.age as integer) as age,
        age_bands.age_band,
        age_bands.life_stage,
        demographics.gender,
        demographics.marital_status,
        demographics.is_head_of_household,
        demographics.home_ownership,
        demographics.occupation,
        demographics.income_band,
        demographics.cars_owned,
        -- loyalty
        demographics.customer_since,
        cast(round(demographics.tenure_years, 2) as double) as tenure_years

    from demographics
    left join age_bands
        on demographics.age between age_bands.min_age and age_bands.max_age

)

select * from final
