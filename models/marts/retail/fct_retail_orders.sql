{{
    config(
        contract={'enforced': true},
        table_type='iceberg',
        partitioned_by=['month(order_date)']
    )
}}

-- One row per retail order line (the line's license code). The contact's name never leaves stage.
with

order_lines as (

    select * from {{ ref('stg_retail__order_lines') }}

),

final as (

    select
        order_line_id,
        order_id,
        client_id,
        order_date,
        cast({{ dbt.date_trunc('month', 'order_date') }} as date) as order_month,
        country,
        city,
        region,
        subregion,
        customer_name,
        industry,
        segment,
        product,
        cast(sales as double) as sales,
        quantity,
        cast(discount as double) as discount,
        cast(profit as double) as profit,
        is_date_key_mismatch

    from order_lines

)

select * from final
