with

source as (

    select * from {{ source_or_empty(
        'core_banking',
        'standing_orders',
        [
            'order_id',
            'account_id',
            'bank_to',
            'account_to',
            'amount',
            'k_symbol',
            'start_date',
            'is_orphan'
        ]
    ) }}

),

renamed as (

    select
        cast(order_id as bigint) as standing_order_id,
        cast(account_id as bigint) as account_id,
        cast(bank_to as varchar) as partner_bank,
        cast(account_to as varchar) as partner_account,
        cast(amount as decimal(18, 2)) as amount,
        cast(k_symbol as varchar) as purpose,
        cast(start_date as date) as started_on,
        cast(is_orphan as boolean) as is_orphan

    from source

)

select * from renamed
