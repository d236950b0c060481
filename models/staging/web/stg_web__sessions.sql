{{
    config(
        materialized=('incremental' if target.type == 'duckdb' else 'view'),
        incremental_strategy='append',
        pre_hook="{{ stage_copy_delete('ga_sessions', 'session_month') }}",
        post_hook="{{ stage_copy_record('ga_sessions') }}"
    )
}}

-- On DuckDB an incremental copy of the stage files: a build copies again only the session_month partitions
-- whose files changed since the last one (macros/stage_copy.sql). On Athena a view, like every staging model.
-- Session grain only: hits live in stg_web__hits, so no metric is counted at the wrong grain.
with

source as (

    select * from {{ stage_copy_source(
        'web',
        'ga_sessions',
        [
            'session_id',
            'full_visitor_id',
            'visit_id',
            'visit_number',
            'visit_start_at',
            'session_date',
            'session_month',
            'channel_grouping',
            'visits',
            'hits',
            'pageviews',
            'time_on_site',
            'bounces',
            'transactions',
            'transaction_revenue',
            'new_visits',
            'source',
            'medium',
            'campaign',
            'keyword',
            'referral_path',
            'is_true_direct',
            'browser',
            'operating_system',
            'is_mobile',
            'device_category',
            'continent',
            'sub_continent',
            'country',
            'region',
            'city',
            'sales_region'
        ],
        'session_month'
    ) }}

),

renamed as (

    select
        cast(session_id as varchar) as session_id,
        cast(full_visitor_id as varchar) as full_visitor_id,
        cast(visit_id as bigint) as visit_id,
        cast(visit_number as integer) as visit_number,
        cast(visit_start_at as timestamp) as visit_start_at,
        cast(session_date as date) as session_date,
        cast(session_month as varchar) as session_month,
        cast(channel_grouping as varchar) as channel_grouping,
        cast(visits as integer) as visits,
        cast(hits as integer) as hits,
        cast(pageviews as integer) as pageviews,
        cast(time_on_site as integer) as time_on_site,
        cast(bounces as integer) as bounces,
        cast(transactions as integer) as transactions,  -- noqa: RF04
        cast(transaction_revenue as decimal(18, 6)) as transaction_revenue,
        cast(new_visits as integer) as new_visits,
        cast(source as varchar) as source,  -- noqa: RF04
        cast(medium as varchar) as medium,
        cast(campaign as varchar) as campaign,
        cast(keyword as varchar) as keyword,
        cast(referral_path as varchar) as referral_path,
        cast(is_true_direct as boolean) as is_true_direct,
        cast(browser as varchar) as browser,
        cast(operating_system as varchar) as operating_system,
        cast(is_mobile as boolean) as is_mobile,
        cast(device_category as varchar) as device_category,
        cast(continent as varchar) as continent,
        cast(sub_continent as varchar) as sub_continent,
        cast(country as varchar) as country,
        cast(region as varchar) as region,
        cast(city as varchar) as city,
        cast(sales_region as varchar) as sales_region

    from source

)

select * from renamed
