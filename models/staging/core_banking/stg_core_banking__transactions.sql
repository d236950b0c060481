{{
    config(
        materialized=('incremental' if target.type == 'duckdb' else 'view'),
        incremental_strategy='append',
        pre_hook="{{ stage_copy_delete('transactions', 'trans_month') }}",
        post_hook="{{ stage_copy_record('transactions') }}"
    )
}}

-- On DuckDB an incremental copy of the stage files: a build copies again only the trans_month partitions whose
-- files changed since the last one (macros/stage_copy.sql). On Athena a view, like every staging model.
with

source as (

    select * from {{ stage_copy_source(
        'core_banking',
        'transactions',
        [
            'trans_id',
            'account_id',
            'trans_date',
            'trans_type',
            'operation',
            'amount',
            'balance',
            'k_symbol',
            'partner_bank',
            'partner_account',
            'is_orphan',
            'trans_month'
        ],
        'trans_month'
    ) }}

),

renamed as (

    select
        cast(trans_id as bigint) as trans_id,
        cast(account_id as bigint) as account_id,
        cast(trans_date as date) as trans_date,
        cast(trans_type as varchar) as trans_type,
        cast(operation as varchar) as operation,  -- noqa: RF04
        cast(amount as decimal(18, 2)) as amount,
        cast(balance as decimal(18, 2)) as balance,
        cast(k_symbol as varchar) as k_symbol,
        cast(partner_bank as varchar) as partner_bank,
        cast(partner_account as varchar) as partner_account,
        cast(is_orphan as boolean) as is_orphan_account,
        cast(trans_month as varchar) as trans_month

    from source

)

select * from renamed
