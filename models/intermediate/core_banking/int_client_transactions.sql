-- One row per client with transactions on the accounts the client owns, as of the as-of date: credit and debit
-- sums and counts over 3, 6 and 12 months (debit figures from debits and cash withdrawals only, never from
-- credits), recency and frequency, and the channel counts behind the channel preference.
with

transactions as (

    select * from {{ ref('stg_core_banking__transactions') }}

),

client_accounts as (

    select * from {{ ref('int_client_accounts') }}

),

as_of as (

    {{ as_of_windows(ref('int_as_of_date')) }}

),

owned as (

    select
        client_accounts.client_id,
        transactions.trans_id,
        transactions.trans_date,
        transactions.amount,
        transactions.operation,
        transactions.trans_type = 'credit' as is_credit,
        transactions.trans_type in ('debit', 'cash withdrawal') as is_debit,
        as_of.window_3m_start,
        as_of.window_6m_start,
        as_of.window_12m_start

    from transactions
    inner join client_accounts
        on transactions.account_id = client_accounts.account_id
    cross join as_of
    where
        client_accounts.is_owner
        and transactions.trans_date <= as_of.as_of_date

),

-- Sums keep their input's type, decimal(18, 2), and counts are bigints: DuckDB widens a sum to decimal(38, 2) or
-- hugeint, whose columns it reads back from its database file far slower (int_customer_features reads them all).
final as (

    select
        client_id,
        cast(sum(case when is_credit and trans_date > window_3m_start then amount else 0 end) as decimal(18, 2))
            as credit_sum_3m,
        count(case when is_credit and trans_date > window_3m_start then 1 end) as credit_count_3m,
        cast(sum(case when is_debit and trans_date > window_3m_start then amount else 0 end) as decimal(18, 2))
            as debit_sum_3m,
        count(case when is_debit and trans_date > window_3m_start then 1 end) as debit_count_3m,
        cast(sum(case when is_credit and trans_date > window_6m_start then amount else 0 end) as decimal(18, 2))
            as credit_sum_6m,
        count(case when is_credit and trans_date > window_6m_start then 1 end) as credit_count_6m,
        cast(sum(case when is_debit and trans_date > window_6m_start then amount else 0 end) as decimal(18, 2))
            as debit_sum_6m,
        count(case when is_debit and trans_date > window_6m_start then 1 end) as debit_count_6m,
        cast(sum(case when is_credit and trans_date > window_12m_start then amount else 0 end) as decimal(18, 2))
            as credit_sum_12m,
        count(case when is_credit and trans_date > window_12m_start then 1 end) as credit_count_12m,
        cast(sum(case when is_debit and trans_date > window_12m_start then amount else 0 end) as decimal(18, 2))
            as debit_sum_12m,
        count(case when is_debit and trans_date > window_12m_start then 1 end) as debit_count_12m,
        max(trans_date) as last_transaction_date,
        count(case when trans_date > window_12m_start then 1 end) as transactions_12m,
        count(
            case
                when
                    trans_date > window_12m_start
                    and operation in ('credit in cash', 'withdrawal in cash')
                    then 1
            end
        ) as cash_transactions_12m,
        count(
            case
                when trans_date > window_12m_start and operation = 'credit card withdrawal'
                    then 1
            end
        ) as card_transactions_12m,
        count(
            case
                when
                    trans_date > window_12m_start
                    and operation in ('collection from another bank', 'remittance to another bank')
                    then 1
            end
        ) as transfer_transactions_12m

    from owned
    group by client_id

)

select * from final
