-- One row per client with at least one retail order line dated on or before the as-of date: the shopping
-- dimension. "12m" means the twelve months ending on the as-of date (order_date > as_of_date - 12 months).
with

order_lines as (

    select * from {{ ref('stg_retail__order_lines') }}

),

as_of as (

    {{ as_of_windows(ref('int_as_of_date')) }}

),

lines_to_date as (

    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.client_id,
        order_lines.order_date,
        order_lines.industry,
        order_lines.product,
        order_lines.sales,
        order_lines.quantity,
        order_lines.discount,
        order_lines.profit,
        order_lines.order_date > as_of.window_12m_start as is_in_12m

    from order_lines
    cross join as_of
    where order_lines.order_date <= as_of.as_of_date

),

client_totals as (

    select
        client_id,
        count(distinct order_id) as retail_order_count,
        count(*) as retail_line_count,
        sum(sales) as retail_sales,
        sum(quantity) as retail_quantity,
        -- Sales-weighted: a 50 % discount on a large line weighs more than one on a small line.
        sum(sales * discount) / nullif(sum(sales), 0) as retail_avg_discount,
        sum(profit) as retail_profit,
        sum(case when is_in_12m then sales else 0 end) as retail_sales_12m,
        sum(case when is_in_12m then profit else 0 end) as retail_profit_12m,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date

    from lines_to_date
    group by client_id

),

products_ranked as (

    select
        client_id,
        product,
        -- Rounded to the 4 decimals the export carries, so a tie stays a tie whatever the order of summation.
        row_number() over (
            partition by client_id
            order by round(sum(sales), 4) desc, product asc
        ) as product_rank

    from lines_to_date
    where product is not null
    group by client_id, product

),

industries_ranked as (

    select
        client_id,
        industry,
        row_number() over (partition by client_id order by count(*) desc, industry asc) as industry_rank

    from lines_to_date
    where industry is not null
    group by client_id, industry

),

final as (

    select
        client_totals.client_id,
        cast(client_totals.retail_order_count as integer) as retail_order_count,
        cast(client_totals.retail_line_count as integer) as retail_line_count,
        cast(round(client_totals.retail_sales, 4) as double) as retail_sales,
        cast(client_totals.retail_quantity as integer) as retail_quantity,
        cast(client_totals.retail_avg_discount as double) as retail_avg_discount,
        cast(round(client_totals.retail_profit, 4) as double) as retail_profit,
        cast(round(client_totals.retail_sales_12m, 4) as double) as retail_sales_12m,
        cast(round(client_totals.retail_profit_12m, 4) as double) as retail_profit_12m,
        products_ranked.product as favourite_product,
        industries_ranked.industry as favourite_industry,
        client_totals.first_order_date,
        client_totals.last_order_date

    from client_totals
    left join products_ranked
        on
            client_totals.client_id = products_ranked.client_id
            and products_ranked.product_rank = 1
    left join industries_ranked
        on
            client_totals.client_id = industries_ranked.client_id
            and industries_ranked.industry_rank = 1

)

select * from final
