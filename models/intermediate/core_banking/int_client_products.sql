-- One row per client with a disposition: the products the client holds (accounts, cards by type, loans,
-- standing orders) and when the client acquired the first and the latest of them, as of the as-of date.
with

client_accounts as (

    select * from {{ ref('int_client_accounts') }}

),

cards as (

    select * from {{ ref('stg_core_banking__cards') }}

),

loans as (

    select * from {{ ref('stg_core_banking__loans') }}

),

standing_orders as (

    select * from {{ ref('stg_core_banking__standing_orders') }}

),

as_of as (

    {{ as_of_windows(ref('int_as_of_date')) }}

),

accounts_held as (

    select
        client_accounts.client_id,
        count(*) as account_count,
        count(case when client_accounts.is_owner then 1 end) as owned_account_count,
        count(
            case
                when client_accounts.opened_on > as_of.window_12m_start then 1
            end
        ) as accounts_opened_12m,
        min(client_accounts.opened_on) as first_account_opened_on,
        max(client_accounts.opened_on) as last_account_opened_on

    from client_accounts
    cross join as_of
    where client_accounts.opened_on <= as_of.as_of_date
    group by client_accounts.client_id

),

cards_held as (

    select
        client_accounts.client_id,
        count(*) as card_count,
        count(case when cards.card_type = 'junior' then 1 end) as junior_card_count,
        count(case when cards.card_type = 'classic' then 1 end) as classic_card_count,
        count(case when cards.card_type = 'gold' then 1 end) as gold_card_count,
        min(cards.issued_on) as first_card_issued_on,
        max(cards.issued_on) as last_card_issued_on

    from cards
    inner join client_accounts
        on cards.disp_id = client_accounts.disp_id
    cross join as_of
    where cards.issued_on <= as_of.as_of_date
    group by client_accounts.client_id

),

loans_held as (

    select
        client_accounts.client_id,
        count(*) as loan_count,
        min(loans.granted_on) as first_loan_granted_on,
        max(loans.granted_on) as last_loan_granted_on

    from loans
    inner join client_accounts
        on loans.account_id = client_accounts.account_id
    cross join as_of
    where
        client_accounts.is_owner
        and loans.granted_on <= as_of.as_of_date
    group by client_accounts.client_id

),

orders_held as (

    select
        client_accounts.client_id,
        count(*) as standing_order_count,
        max(standing_orders.started_on) as last_standing_order_started_on

    from standing_orders
    inner join client_accounts
        on standing_orders.account_id = client_accounts.account_id
    cross join as_of
    where
        client_accounts.is_owner
        and coalesce(standing_orders.started_on, as_of.as_of_date) <= as_of.as_of_date
    group by client_accounts.client_id

),

final as (

    select
        accounts_held.client_id,
        accounts_held.account_count,
        accounts_held.owned_account_count,
        accounts_held.accounts_opened_12m,
        coalesce(cards_held.card_count, 0) as card_count,
        coalesce(cards_held.junior_card_count, 0) as junior_card_count,
        coalesce(cards_held.classic_card_count, 0) as classic_card_count,
        coalesce(cards_held.gold_card_count, 0) as gold_card_count,
        coalesce(loans_held.loan_count, 0) as loan_count,
        coalesce(orders_held.standing_order_count, 0) as standing_order_count,
        least(
            accounts_held.first_account_opened_on,
            coalesce(cards_held.first_card_issued_on, accounts_held.first_account_opened_on),
            coalesce(loans_held.first_loan_granted_on, accounts_held.first_account_opened_on)
        ) as first_product_date,
        greatest(
            accounts_held.last_account_opened_on,
            coalesce(cards_held.last_card_issued_on, accounts_held.last_account_opened_on),
            coalesce(loans_held.last_loan_granted_on, accounts_held.last_account_opened_on),
            coalesce(orders_held.last_standing_order_started_on, accounts_held.last_account_opened_on)
        ) as last_product_date

    from accounts_held
    left join cards_held
        on accounts_held.client_id = cards_held.client_id
    left join loans_held
        on accounts_held.client_id = loans_held.client_id
    left join orders_held
        on accounts_held.client_id = orders_held.client_id

)

select * from final
