-- One row per GA session: the session's own columns, its hit aggregates (computed at hit grain first, by
-- int_web_session_hits, then joined one-to-one on session_id) and the client it belongs to. Only unambiguous
-- visitor-map rows are used, and visitor ids are compared as strings (they may start with 0), so a session maps
-- to at most one client and is never multiplied.
with

sessions as (

    select * from {{ ref('stg_web__sessions') }}

),

session_hits as (

    select * from {{ ref('int_web_session_hits') }}

),

visitor_map as (

    select * from {{ ref('stg_web__visitor_map') }}

),

-- A visitor flagged ambiguous (one browser shared by several clients) is attributed to nobody. The group by keeps
-- one row per visitor even if the map ever held the same unambiguous link twice.
known_visitors as (

    select
        cast(full_visitor_id as varchar) as full_visitor_id,
        min(client_id) as client_id

    from visitor_map
    where is_ambiguous = false
    group by cast(full_visitor_id as varchar)
    having count(distinct client_id) = 1

),

final as (

    select
        sessions.session_id,
        sessions.full_visitor_id,
        known_visitors.client_id,
        known_visitors.client_id is not null as is_known_client,
        sessions.visit_id,
        sessions.visit_number,
        sessions.visit_start_at,
        sessions.session_date,
        sessions.channel_grouping,
        sessions.visits,
        sessions.hits,
        sessions.pageviews,
        sessions.time_on_site,
        sessions.bounces,
        sessions.transactions,
        sessions.transaction_revenue,
        sessions.new_visits,
        sessions.source,
        sessions.medium,
        sessions.campaign,
        sessions.keyword,
        sessions.referral_path,
        sessions.is_true_direct,
        sessions.browser,
        sessions.operating_system,
        sessions.is_mobile,
        sessions.device_category,
        sessions.continent,
        sessions.sub_continent,
        sessions.country,
        sessions.region,
        sessions.city,
        sessions.sales_region,
        coalesce(session_hits.page_hits, 0) as page_hits,
        coalesce(session_hits.event_hits, 0) as event_hits,
        coalesce(session_hits.purchase_hits, 0) as purchase_hits,
        session_hits.top_content_category

    from sessions
    left join session_hits
        on sessions.session_id = session_hits.session_id
    left join known_visitors
        on cast(sessions.full_visitor_id as varchar) = known_visitors.full_visitor_id

)

select * from final
