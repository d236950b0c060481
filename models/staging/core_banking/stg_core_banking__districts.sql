with

source as (

    select * from {{ source_or_empty(
        'core_banking',
        'districts',
        [
            'district_id',
            'district_name',
            'region',
            'inhabitants',
            'urban_ratio',
            'average_salary',
            'unemployment_95',
            'unemployment_96',
            'entrepreneurs_per_1000',
            'crimes_95',
            'crimes_96'
        ]
    ) }}

),

renamed as (

    select
        cast(district_id as bigint) as district_id,
        cast(district_name as varchar) as district_name,
        cast(region as varchar) as region,
        cast(inhabitants as integer) as inhabitants,
        cast(urban_ratio as double) as urban_ratio_pct,
        cast(average_salary as integer) as average_salary,
        cast(unemployment_95 as double) as unemployment_rate_95,
        cast(unemployment_96 as double) as unemployment_rate_96,
        cast(entrepreneurs_per_1000 as integer) as entrepreneurs_per_1000,
        cast(crimes_95 as integer) as crimes_95,
        cast(crimes_96 as integer) as crimes_96

    from source

)

select * from renamed
