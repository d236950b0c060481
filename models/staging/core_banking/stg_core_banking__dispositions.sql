with

source as (

    select * from {{ source_or_empty(
        'core_banking',
        'dispositions',
        [
            'disp_id',
            'client_id',
            'account_id',
            'disp_type',
            'valid_from',
            'is_orphan'
        ]
    ) }}

),

renamed as (

    select
        cast(disp_id as bigint) as disp_id,
        cast(client_id as bigint) as client_id,
        cast(account_id as bigint) as account_id,
        cast(disp_type as varchar) as disp_type,
        cast(valid_from as date) as valid_from,
        cast(is_orphan as boolean) as is_orphan

    from source

)

select * from renamed
