-- One row per account: its balance at the as-of date and 3, 6 and 12 months before (the balance after the last
-- transaction on or before each date), the average month-end balance over the 12 months up to the as-of date
-- (an assets-under-management proxy), days with a negative balance and sanction-interest events in 12 months.
with

transactions as (

    select * from {{ ref('stg_core_banking__transactions') }}

),

as_of as (

    {{ as_of_windows(ref('int_as_of_date')) }}

),

month_offsets as (

    select * from {{ ref('month_offsets') }}

),

dated as (

    select
        transactions.account_id,
        transactions.trans_id,
        transactions.trans_date,
        transactions.balance,
        transactions.k_symbol,
        as_of.window_12m_start,
        as_of.day_after_as_of_date

    from transactions
    cross join as_of
    where transactions.trans_date <= as_of.as_of_date

),

-- Every checkpoint lies in the 12 months up to the as-of date, so only the spans that reach into them matter: the
-- transactions of those months and, per account, the last one on or before their start (the opening balance).
-- Their spans are the ones the whole history would give them, and the window below sorts a year, not ten.
opening_days as (

    select
        account_id,
        max(trans_date) as trans_date

    from dated
    where trans_date <= window_12m_start
    group by account_id

),

openings as (

    -- the last transaction of that day (the spans order a day's transactions by trans_id)
    select
        dated.account_id,
        max(dated.trans_id) as trans_id

    from dated
    inner join opening_days
        on
            dated.account_id = opening_days.account_id
            and dated.trans_date = opening_days.trans_date
    group by dated.account_id

),

recent as (

    select * from dated
    where trans_date > window_12m_start

    union all

    select dated.* from dated
    inner join openings
        on
            dated.account_id = openings.account_id
            and dated.trans_id = openings.trans_id

),

checkpoints as (

    -- the as-of date and the same day 3, 6 and 12 months before, plus the 12 month-ends of the AUM average
    select
        month_offsets.month_offset,
        cast({{ dbt.dateadd('month', '-1 * month_offsets.month_offset', 'as_of.as_of_date') }} as date)
            as checkpoint_date

    from month_offsets
    cross join as_of

),

balance_spans as (

    -- each transaction's balance holds from its day until the next transaction's day (or after the as-of date)
    select
        account_id,
        trans_date,
        balance,
        k_symbol,
        window_12m_start,
        day_after_as_of_date,
        lead(trans_date) over (partition by account_id order by trans_date, trans_id) as next_trans_date

    from recent

),

balance_at_checkpoint as (

    -- the one span that covers each checkpoint date (the balance at the end of that day)
    select
        balance_spans.account_id,
        checkpoints.month_offset,
        balance_spans.balance

    from balance_spans
    inner join checkpoints
        on
            balance_spans.trans_date <= checkpoints.checkpoint_date
            and (
                balance_spans.next_trans_date > checkpoints.checkpoint_date
                or balance_spans.next_trans_date is null
            )

),

latest_balances as (

    select
        account_id,
        max(case when month_offset = 0 then balance end) as current_balance,
        max(case when month_offset = 3 then balance end) as balance_3m_ago,
        max(case when month_offset = 6 then balance end) as balance_6m_ago,
        max(case when month_offset = 12 then balance end) as balance_12m_ago,
        avg(case when month_offset < 12 then balance end) as avg_balance_12m

    from balance_at_checkpoint
    group by account_id

),

negative_days as (

    select
        account_id,
        -- a bigint, as in int_client_transactions
        cast(sum(
            case
                when balance < 0
                    then greatest(
                            0,
                        {{ dbt.datediff(
                            'greatest(trans_date, window_12m_start)',
                            'coalesce(next_trans_date, day_after_as_of_date)',
                            'day'
                        ) }}
                        )
                else 0
            end
        ) as bigint) as days_negative_balance_12m,
        count(
            case
                when k_symbol = 'sanction interest if negative balance'
                    and trans_date > window_12m_start
                    then 1
            end
        ) as sanction_interest_events_12m

    from balance_spans
    where coalesce(next_trans_date, day_after_as_of_date) > window_12m_start
    group by account_id

),

final as (

    select
        latest_balances.account_id,
        latest_balances.current_balance,
        latest_balances.balance_3m_ago,
        latest_balances.balance_6m_ago,
        latest_balances.balance_12m_ago,
        latest_balances.avg_balance_12m,
        coalesce(negative_days.days_negative_balance_12m, 0) as days_negative_balance_12m,
        coalesce(negative_days.sanction_interest_events_12m, 0) as sanction_interest_events_12m

    from latest_balances
    left join negative_days
        on latest_balances.account_id = negative_days.account_id

)

select * from final
