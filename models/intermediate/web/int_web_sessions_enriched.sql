-- One row per GA session: the session's own columns, its hit aggregates (computed at hit grain first, then joined
-- one-to-one on session_id) and the client it belongs to. Only unambiguous visitor-map rows are used, and visitor
-- ids are compared as strings (they may start with 0), so a session maps to at most one client and is never
-- multiplied.
with

sessions as (

    select * from {{ ref('stg_web__sessions') }}

),

hits as (

    select * from {{ ref('stg_web__hits') }}

),

visitor_map as (

    select * from {{ ref('stg_web__visitor_map') }}

),

hit_counts as (

    select
        session_id,
        sum(case when hit_type = 'PAGE' then 1 else 0 end) as page_hits,
        sum(case when hit_type = 'EVENT' then 1 else 0 end) as event_hits,
        sum(case when ecommerce_action_type = 'purchase' then 1 else 0 end) as purchase_hits

    from hits
    group by session_id

),

page_categories_ranked as (

    select
        session_id,
        content_category,
        row_number() over (
            partition by session_id
            order by count(*) desc, content_category asc
        ) as category_rank

    from hits
    where hit_type = 'PAGE' and content_category is not null
    group by session_id, content_category

),

top_categories as (

    select
        session_id,
        content_category as top_content_category

    from page_categories_ranked
    where category_rank = 1

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
        cast(coalesce(hit_counts.page_hits, 0) as integer) as page_hits,
        cast(coalesce(hit_counts.event_hits, 0) as integer) as event_hits,
        cast(coalesce(hit_counts.purchase_hits, 0) as integer) as purchase_hits,
        top_categories.top_content_category

    from sessions
    left join hit_counts
        on sessions.session_id = hit_counts.session_id
    left join top_categories
        on sessions.session_id = top_categories.session_id
    left join known_visitors
        on cast(sessions.full_visitor_id as varchar) = known_visitors.full_visitor_id

)

select * from final
