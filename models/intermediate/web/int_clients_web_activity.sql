-- One row per client with at least one web session on or before the as-of date: the digital profile of the
-- marketing dimension. Sessions come from int_web_sessions_enriched (one row per session, at most one client), so
-- session counts and pageviews are never multiplied by hits or by the visitor map. "12m" means the twelve months
-- ending on the as-of date: session_date > as_of_date - 12 months and <= as_of_date.
with

sessions as (

    select * from {{ ref('int_web_sessions_enriched') }}

),

hits as (

    select * from {{ ref('stg_web__hits') }}

),

as_of as (

    {{ as_of_windows(ref('int_as_of_date')) }}

),

client_sessions as (

    select
        sessions.session_id,
        sessions.client_id,
        sessions.full_visitor_id,
        sessions.session_date,
        sessions.channel_grouping,
        sessions.device_category,
        sessions.pageviews,
        sessions.campaign,
        sessions.transactions,
        sessions.country,
        sessions.city,
        sessions.session_date > as_of.window_12m_start as is_in_12m,
        sessions.device_category in ('mobile', 'tablet') as is_mobile_device,
        coalesce(sessions.campaign, '(not set)') != '(not set)' as is_campaign_session

    from sessions
    cross join as_of
    where
        sessions.client_id is not null
        and sessions.session_date <= as_of.as_of_date

),

client_totals as (

    select
        client_id,
        count(distinct full_visitor_id) as visitor_count,
        min(session_date) as first_web_visit_date,
        max(session_date) as last_web_visit_date,
        count(case when is_in_12m then 1 end) as web_sessions_12m,
        cast(sum(case when is_in_12m then pageviews else 0 end) as bigint) as web_pageviews_12m,
        count(case when is_in_12m and is_mobile_device then 1 end) as mobile_sessions_12m,
        count(case when is_in_12m and channel_grouping = 'Organic Search' then 1 end) as organic_search_12m,
        count(case when is_in_12m and channel_grouping = 'Direct' then 1 end) as direct_12m,
        count(case when is_in_12m and channel_grouping = 'Paid Search' then 1 end) as paid_search_12m,
        count(case when is_in_12m and channel_grouping = 'Referral' then 1 end) as referral_12m,
        count(case when is_in_12m and channel_grouping = 'Social' then 1 end) as social_12m,
        count(case when is_in_12m and channel_grouping = 'Display' then 1 end) as display_12m,
        count(case when is_in_12m and channel_grouping = 'Affiliates' then 1 end) as affiliates_12m,
        count(case when is_in_12m and is_campaign_session then 1 end) as campaign_sessions_12m,
        count(
            case when is_in_12m and is_campaign_session and transactions > 0 then 1 end
        ) as campaign_conversions_12m

    from client_sessions
    group by client_id

),

-- Content interest: PAGE hits of the client's 12m sessions, counted at hit grain (each hit belongs to one session,
-- each session to at most one client: no fan-out).
content_categories_ranked as (

    select
        client_sessions.client_id,
        hits.content_category,
        row_number() over (
            partition by client_sessions.client_id
            order by count(*) desc, hits.content_category asc
        ) as category_rank

    from hits
    inner join client_sessions
        on hits.session_id = client_sessions.session_id
    where
        client_sessions.is_in_12m
        and hits.hit_type = 'PAGE'
        and hits.content_category is not null
    group by client_sessions.client_id, hits.content_category

),

-- Geography: the country and the city the client's sessions come from most often (all sessions to date); GA's
-- "(not set)" is no place.
countries_ranked as (

    select
        client_id,
        country,
        row_number() over (partition by client_id order by count(*) desc, country asc) as country_rank

    from client_sessions
    where country is not null and country != '(not set)'
    group by client_id, country

),

cities_ranked as (

    select
        client_id,
        city,
        row_number() over (partition by client_id order by count(*) desc, city asc) as city_rank

    from client_sessions
    where city is not null and city != '(not set)'
    group by client_id, city

),

final as (

    select
        client_totals.client_id,
        cast(client_totals.visitor_count as integer) as visitor_count,
        cast(client_totals.web_sessions_12m as integer) as web_sessions_12m,
        cast(client_totals.web_pageviews_12m as integer) as web_pageviews_12m,
        client_totals.first_web_visit_date,
        client_totals.last_web_visit_date,
        cast(client_totals.mobile_sessions_12m as integer) as mobile_sessions_12m,
        cast(client_totals.mobile_sessions_12m as double)
        / nullif(client_totals.web_sessions_12m, 0) as mobile_share,
        cast(client_totals.organic_search_12m as double)
        / nullif(client_totals.web_sessions_12m, 0) as organic_search_share,
        cast(client_totals.direct_12m as double) / nullif(client_totals.web_sessions_12m, 0) as direct_share,
        cast(client_totals.paid_search_12m as double) / nullif(client_totals.web_sessions_12m, 0) as paid_search_share,
        cast(client_totals.referral_12m as double) / nullif(client_totals.web_sessions_12m, 0) as referral_share,
        cast(client_totals.social_12m as double) / nullif(client_totals.web_sessions_12m, 0) as social_share,
        cast(client_totals.display_12m as double) / nullif(client_totals.web_sessions_12m, 0) as display_share,
        cast(client_totals.affiliates_12m as double) / nullif(client_totals.web_sessions_12m, 0) as affiliates_share,
        content_categories_ranked.content_category as top_content_category,
        cast(client_totals.campaign_sessions_12m as integer) as campaign_sessions_12m,
        cast(client_totals.campaign_conversions_12m as integer) as campaign_conversions_12m,
        cast(client_totals.campaign_conversions_12m as double)
        / nullif(client_totals.campaign_sessions_12m, 0) as campaign_response_rate,
        countries_ranked.country as web_country,
        cities_ranked.city as web_city

    from client_totals
    left join content_categories_ranked
        on
            client_totals.client_id = content_categories_ranked.client_id
            and content_categories_ranked.category_rank = 1
    left join countries_ranked
        on
            client_totals.client_id = countries_ranked.client_id
            and countries_ranked.country_rank = 1
    left join cities_ranked
        on
            client_totals.client_id = cities_ranked.client_id
            and cities_ranked.city_rank = 1

)

select * from final
