-- fullVisitorId stays a string: ids may start with 0.
with

source as (

    select * from {{ source_or_empty(
        'web',
        'visitor_map',
        [
            'full_visitor_id',
            'client_id',
            'is_ambiguous',
            'client_count'
        ]
    ) }}

),

renamed as (

    select
        cast(full_visitor_id as varchar) as full_visitor_id,
        cast(client_id as bigint) as client_id,
        cast(is_ambiguous as boolean) as is_ambiguous,
        cast(client_count as integer) as client_count

    from source

)

select * from renamed
