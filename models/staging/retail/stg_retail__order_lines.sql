-- contact_name (a person's name) is not selected: no direct identifier leaves stage.
with

source as (

    select * from {{ source_or_empty(
        'retail',
        'retail_orders',
        [
            'license',
            'row_id',
            'order_id',
            'order_date',
            'date_key',
            'is_date_key_mismatch',
            'country',
            'city',
            'region',
            'subregion',
            'customer_name',
            'client_id',
            'industry',
            'segment',
            'product',
            'sales',
            'quantity',
            'discount',
            'profit',
            'order_month'
        ]
    ) }}

),

renamed as (

    select
        cast(license as varchar) as order_line_id,
        cast(row_id as bigint) as row_id,
        cast(order_id as varchar) as order_id,
        cast(order_date as date) as order_date,
        cast(date_key as date) as date_key,
        cast(is_date_key_mismatch as boolean) as is_date_key_mismatch,
        cast(country as varchar) as country,
        cast(city as varchar) as city,
        cast(region as varchar) as region,
        cast(subregion as varchar) as subregion,
        cast(customer_name as varchar) as customer_name,
        cast(client_id as bigint) as client_id,
        cast(industry as varchar) as industry,
        cast(segment as varchar) as segment,
        cast(product as varchar) as product,
        cast(sales as decimal(18, 4)) as sales,
        cast(quantity as integer) as quantity,
        cast(discount as decimal(9, 4)) as discount,
        cast(profit as decimal(18, 4)) as profit,
        cast(order_month as varchar) as order_month

    from source

)

select * from renamed
