{{
    config(
        materialized=('incremental' if target.type == 'duckdb' else 'view'),
        incremental_strategy='append',
        pre_hook="{{ stage_copy_delete('ga_hits', 'session_month') }}",
        post_hook="{{ stage_copy_record('ga_hits') }}"
    )
}}

-- On DuckDB an incremental copy of the stage files: a build copies again only the session_month partitions
-- whose files changed since the last one (macros/stage_copy.sql). On Athena a view, like every staging model.
with

source as (

    select * from {{ stage_copy_source(
        'web',
        'ga_hits',
        [
            'session_id',
            'hit_number',
            'hit_type',
            'hit_at',
            'session_date',
            'session_month',
            'is_interaction',
            'is_entrance',
            'is_exit',
            'page_path',
            'page_title',
            'page_path_level1',
            'page_path_level2',
            'page_path_level3',
            'page_path_level4',
            'content_group1',
            'event_category',
            'event_action',
            'event_label',
            'ecommerce_action_type',
            'ecommerce_action_step',
            'product_count',
            'product_sku',
            'product_name',
            'product_category',
            'product_price',
            'transaction_id'
        ],
        'session_month'
    ) }}

),

renamed as (

    select
        cast(session_id as varchar) as session_id,
        cast(hit_number as integer) as hit_number,
        cast(hit_type as varchar) as hit_type,
        cast(hit_at as timestamp) as hit_at,
        cast(session_date as date) as session_date,
        cast(session_month as varchar) as session_month,
        cast(is_interaction as boolean) as is_interaction,
        cast(is_entrance as boolean) as is_entrance,
        cast(is_exit as boolean) as is_exit,
        cast(page_path as varchar) as page_path,
        cast(page_title as varchar) as page_title,
        cast(page_path_level1 as varchar) as page_path_level1,
        cast(page_path_level2 as varchar) as page_path_level2,
        cast(page_path_level3 as varchar) as page_path_level3,
        cast(page_path_level4 as varchar) as page_path_level4,
        cast(content_group1 as varchar) as content_category,
        cast(event_category as varchar) as event_category,
        cast(event_action as varchar) as event_action,
        cast(event_label as varchar) as event_label,
        cast(ecommerce_action_type as varchar) as ecommerce_action_type,
        cast(ecommerce_action_step as integer) as ecommerce_action_step,
        cast(product_count as integer) as product_count,
        cast(product_sku as varchar) as product_sku,
        cast(product_name as varchar) as product_name,
        cast(product_category as varchar) as product_category,
        cast(product_price as decimal(18, 6)) as product_price,
        cast(transaction_id as varchar) as transaction_id

    from source

)

select * from renamed
