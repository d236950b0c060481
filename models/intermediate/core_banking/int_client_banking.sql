-- One row per client who owns an account: the client's primary account (the first opened; ties by account id),
-- its district, the balances summed over the accounts the client owns, and the client's latest loan.
with

client_accounts as (

    select * from {{ ref('int_client_accounts') }}

),

balances as (

    select * from {{ ref('int_account_balances') }}

),

loans as (

    select * from {{ ref('stg_core_banking__loans') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

owned as (

    select client_accounts.*
    from client_accounts
    cross join as_of
    where
        client_accounts.is_owner
        and client_accounts.opened_on <= as_of.as_of_date

),

primary_account as (

    select
        client_id,
        account_id as primary_account_id,
        district_id,
        statement_frequency,
        row_number() over (partition by client_id order by opened_on, account_id) as account_rank

    from owned

),

owned_balances as (

    select
        owned.client_id,
        -- decimal(18, 2) and bigint, as in int_client_transactions
        cast(sum(balances.current_balance) as decimal(18, 2)) as current_balance,
        cast(sum(balances.balance_3m_ago) as decimal(18, 2)) as balance_3m_ago,
        cast(sum(balances.balance_6m_ago) as decimal(18, 2)) as balance_6m_ago,
        cast(sum(balances.balance_12m_ago) as decimal(18, 2)) as balance_12m_ago,
        sum(balances.avg_balance_12m) as avg_balance_12m,
        max(balances.days_negative_balance_12m) as days_negative_balance_12m,
        cast(sum(balances.sanction_interest_events_12m) as bigint) as sanction_interest_events_12m

    from owned
    inner join balances
        on owned.account_id = balances.account_id
    group by owned.client_id

),

latest_loan as (

    select
        owned.client_id,
        loans.loan_status,
        loans.loan_amount,
        loans.granted_on,
        row_number() over (partition by owned.client_id order by loans.granted_on desc, loans.loan_id desc)
            as loan_rank

    from loans
    inner join owned
        on loans.account_id = owned.account_id
    cross join as_of
    where loans.granted_on <= as_of.as_of_date

),

loan_history as (

    select
        owned.client_id,
        count(case when loans.loan_status in ('finished, loan not paid', 'running, client in debt') then 1 end)
            as problem_loan_count

    from loans
    inner join owned
        on loans.account_id = owned.account_id
    group by owned.client_id

),

final as (

    select
        primary_account.client_id,
        primary_account.primary_account_id,
        primary_account.district_id,
        primary_account.statement_frequency,
        owned_balances.current_balance,
        owned_balances.balance_3m_ago,
        owned_balances.balance_6m_ago,
        owned_balances.balance_12m_ago,
        owned_balances.avg_balance_12m,
        coalesce(owned_balances.days_negative_balance_12m, 0) as days_negative_balance_12m,
        coalesce(owned_balances.sanction_interest_events_12m, 0) as sanction_interest_events_12m,
        latest_loan.loan_status as latest_loan_status,
        latest_loan.loan_amount as latest_loan_amount,
        latest_loan.granted_on as latest_loan_granted_on,
        coalesce(loan_history.problem_loan_count, 0) as problem_loan_count

    from primary_account
    left join owned_balances
        on primary_account.client_id = owned_balances.client_id
    left join latest_loan
        on
            primary_account.client_id = latest_loan.client_id
            and latest_loan.loan_rank = 1
    left join loan_history
        on primary_account.client_id = loan_history.client_id
    where primary_account.account_rank = 1

)

select * from final
