with

source as (

    select * from {{ source_or_empty(
        'core_banking',
        'cards',
        [
            'card_id',
            'disp_id',
            'card_type',
            'issued_date',
            'issued_at',
            'is_orphan'
        ]
    ) }}

),

renamed as (

    select
        cast(card_id as bigint) as card_id,
        cast(disp_id as bigint) as disp_id,
        cast(card_type as varchar) as card_type,
        cast(issued_date as date) as issued_on,
        cast(issued_at as timestamp) as issued_at,
        cast(is_orphan as boolean) as is_orphan

    from source

)

select * from renamed
