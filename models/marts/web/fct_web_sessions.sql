{{
    config(
        contract={'enforced': true},
        table_type='iceberg',
        partitioned_by=['month(session_date)']
    )
}}

-- One row per GA session, with its client when the visitor is known (null for anonymous or shared visitors).
with

sessions as (

    select * from {{ ref('int_web_sessions_enriched') }}

),

final as (

    select
        session_id,
        client_id,
        session_date,
        visit_start_at,
        channel_grouping,
        device_category,
        is_mobile,
        country,
        city,
        campaign,
        source,
        medium,
        pageviews,
        hits,
        page_hits,
        event_hits,
        time_on_site,
        bounces,
        transactions,
        cast(transaction_revenue as double) as transaction_revenue,
        top_content_category

    from sessions

)

select * from final
