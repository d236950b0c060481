{{
    config(
        materialized=('incremental' if target.type == 'duckdb' else 'view'),
        incremental_strategy='append',
        pre_hook="{{ stage_copy_delete('ga_hits', 'session_date') }}",
        post_hook="{{ stage_copy_record('ga_hits') }}"
    )
}}

-- One row per GA session with hits: its hit counts and its most viewed content section, at hit grain. On DuckDB
-- incremental: a build counts again only the session days whose stage hit files changed since its last one (a
-- session's hits all lie in its day: macros/stage_copy.sql), so a new day does not scan every hit again. On
-- Athena a view, like every intermediate model.
with

hits as (

    select * from {{ ref('stg_web__hits') }}
    {{ stage_partitions_changed('ga_hits', 'session_date') }}

),

hit_counts as (

    select
        session_id,
        min(session_date) as session_date,
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

final as (

    select
        hit_counts.session_id,
        hit_counts.session_date,
        cast(hit_counts.page_hits as integer) as page_hits,
        cast(hit_counts.event_hits as integer) as event_hits,
        cast(hit_counts.purchase_hits as integer) as purchase_hits,
        top_categories.top_content_category

    from hit_counts
    left join top_categories
        on hit_counts.session_id = top_categories.session_id

)

select * from final
