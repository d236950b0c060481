{{ config(contract={'enforced': true}) }}

-- One row per account: its owner, branch district, statement frequency, products and balances as of the as-of
-- date.
with

client_accounts as (

    select * from {{ ref('int_client_accounts') }}

),

accounts as (

    select * from {{ ref('stg_core_banking__accounts') }}

),

balances as (

    select * from {{ ref('int_account_balances') }}

),

cards as (

    select * from {{ ref('stg_core_banking__cards') }}

),

loans as (

    select * from {{ ref('stg_core_banking__loans') }}

),

account_people as (

    select
        account_id,
        max(case when is_owner then client_id end) as owner_client_id,
        sum(case when is_owner then 0 else 1 end) as disponent_count

    from client_accounts
    group by account_id

),

account_cards as (

    select
        client_accounts.account_id,
        count(*) as card_count

    from cards
    inner join client_accounts
        on cards.disp_id = client_accounts.disp_id
    group by client_accounts.account_id

),

final as (

    select
        accounts.account_id,
        account_people.owner_client_id,
        cast(coalesce(account_people.disponent_count, 0) as integer) as disponent_count,
        accounts.district_id,
        accounts.statement_frequency,
        accounts.opened_on,
        cast(coalesce(account_cards.card_count, 0) as integer) as card_count,
        loans.loan_id is not null as has_loan,
        loans.loan_status,
        cast(balances.current_balance as double) as current_balance,
        cast(balances.avg_balance_12m as double) as avg_balance_12m

    from accounts
    left join account_people
        on accounts.account_id = account_people.account_id
    left join account_cards
        on accounts.account_id = account_cards.account_id
    left join loans
        on accounts.account_id = loans.account_id
    left join balances
        on accounts.account_id = balances.account_id

)

select * from final
