-- The floor of `dbt build`: one hand-written DuckDB query computing customer_360, every one of its columns for
-- every client, straight from the stage Parquet files (no staging tables, no tests, no dbt parse).
-- benchmarks/run.py replaces {stage} with the stage zone (e.g. /path/lake/stage), times
-- `COPY (<this query>) TO <tmp>.parquet` and compares the result with the build's customer_360
-- (`floor_mismatches`); tests/test_end_to_end.py checks that they are equal, so a change to customer_360's
-- logic (models/intermediate, models/marts/customer) must be made here too.
--
-- Layout: the as-of date; core banking (bank_*: int_client_banking, int_client_transactions,
-- int_client_products and the models under them); web and retail (web_*, retail_*: int_clients_web_activity,
-- int_clients_retail_activity); then the clients, their features, scores and segments (int_customer_features,
-- customer_segments, customer_360). Each stage table is read once where it can be; the transactions three times,
-- each over its own rows and columns, which measured faster than one wide window.
with

-- The one date every metric is computed as of (int_as_of_date without var('as_of_date')).
as_of as (
    select coalesce(
        (select max(trans_date) from read_parquet('{stage}/transactions/*/*.parquet', hive_partitioning = true)),
        (select max(session_date) from read_parquet('{stage}/ga_sessions/*/*.parquet', hive_partitioning = true)),
        (select max(cast(_ingested_at as date)) from read_parquet('{stage}/crm_customers/*.parquet'))
    ) as as_of_date
),

-- Core banking: int_client_banking, int_client_transactions and int_client_products (and int_account_balances,
-- int_client_accounts under them) from the stage files.
-- The as-of date and the window starts, computed as dbt.dateadd does (same day N months before, clamped to
-- the month's end); every window is (start, as-of date].
bank_dates as (
    select
        as_of_date,
        cast(as_of_date - interval 3 month as date) as start_3m,
        cast(as_of_date - interval 6 month as date) as start_6m,
        cast(as_of_date - interval 12 month as date) as start_12m,
        cast(as_of_date + interval 1 day as date) as after_as_of,
        -- the checkpoints of the balances: the as-of date and the same day 1 to 12 months before
        cast(as_of_date - interval 1 month as date) as cp_1,
        cast(as_of_date - interval 2 month as date) as cp_2,
        cast(as_of_date - interval 4 month as date) as cp_4,
        cast(as_of_date - interval 5 month as date) as cp_5,
        cast(as_of_date - interval 7 month as date) as cp_7,
        cast(as_of_date - interval 8 month as date) as cp_8,
        cast(as_of_date - interval 9 month as date) as cp_9,
        cast(as_of_date - interval 10 month as date) as cp_10,
        cast(as_of_date - interval 11 month as date) as cp_11
    from as_of
),

-- Client x account through a disposition (int_client_accounts): no orphan filter, disponents included.
bank_client_accounts as (
    select
        dispositions.client_id,
        dispositions.account_id,
        dispositions.disp_id,
        dispositions.disp_type = 'owner' as is_owner,
        accounts.district_id,
        accounts.frequency as statement_frequency,
        accounts.open_date as opened_on
    from read_parquet('{stage}/dispositions/*.parquet') as dispositions
    inner join read_parquet('{stage}/accounts/*.parquet') as accounts
        on dispositions.account_id = accounts.account_id
),

-- The transactions are read in three passes, each over its own rows and columns (cheaper than one wide window):
-- the older ones for the opening balances, the 12-month window's for the balance spans, and again for the sums.

-- Per account, the opening balance of the 12-month window: its last transaction (by day, then trans_id) on or
-- before the window start.
bank_openings as (
    select
        txn.account_id,
        max({'trans_date': txn.trans_date, 'trans_id': txn.trans_id, 'balance': txn.balance}) as opening
    from read_parquet('{stage}/transactions/*/*.parquet', hive_partitioning = true) as txn, bank_dates
    where txn.trans_date <= bank_dates.start_12m
    group by txn.account_id
),

-- The balance spans of int_account_balances: the window's transactions plus each account's opening one; a
-- span's balance holds from its day until the next transaction's day (ordered by day, then trans_id).
bank_spans as (
    select
        spans.*,
        lead(spans.trans_date) over (partition by spans.account_id order by spans.trans_date, spans.trans_id)
            as next_trans_date
    from (
        select
            txn.account_id,
            txn.trans_id,
            txn.trans_date,
            txn.balance
        from read_parquet('{stage}/transactions/*/*.parquet', hive_partitioning = true) as txn, bank_dates
        where txn.trans_date > bank_dates.start_12m and txn.trans_date <= bank_dates.as_of_date

        union all

        select
            account_id,
            opening.trans_id,
            opening.trans_date,
            opening.balance
        from bank_openings
    ) as spans
),

-- int_account_balances, one row per account with transactions up to the as-of date.
bank_account_balances as (
    select
        account_id,
        -- the balance at a checkpoint is the one of the span covering its day; the last span runs past the
        -- as-of date
        max(balance) filter (where trans_date <= as_of_date and span_end > as_of_date) as balance_0,
        max(balance) filter (where trans_date <= cp_1 and span_end > cp_1) as balance_1,
        max(balance) filter (where trans_date <= cp_2 and span_end > cp_2) as balance_2,
        max(balance) filter (where trans_date <= start_3m and span_end > start_3m) as balance_3,
        max(balance) filter (where trans_date <= cp_4 and span_end > cp_4) as balance_4,
        max(balance) filter (where trans_date <= cp_5 and span_end > cp_5) as balance_5,
        max(balance) filter (where trans_date <= start_6m and span_end > start_6m) as balance_6,
        max(balance) filter (where trans_date <= cp_7 and span_end > cp_7) as balance_7,
        max(balance) filter (where trans_date <= cp_8 and span_end > cp_8) as balance_8,
        max(balance) filter (where trans_date <= cp_9 and span_end > cp_9) as balance_9,
        max(balance) filter (where trans_date <= cp_10 and span_end > cp_10) as balance_10,
        max(balance) filter (where trans_date <= cp_11 and span_end > cp_11) as balance_11,
        max(balance) filter (where trans_date <= start_12m and span_end > start_12m) as balance_12,
        -- days from the window start (itself included) to the as-of date closing with a negative balance
        sum(
            case
                when balance < 0 then greatest(0, date_diff('day', greatest(trans_date, start_12m), span_end))
                else 0
            end
        ) as days_negative_balance_12m,
        max(trans_date) as last_transaction_date
    from (
        select
            bank_spans.*,
            bank_dates.*,
            coalesce(bank_spans.next_trans_date, bank_dates.after_as_of) as span_end
        from bank_spans, bank_dates
    ) as spans
    group by account_id
),

-- Per account, the sums and counts of the window's transactions (int_client_transactions before the owners):
-- credits, and debits from debits and cash withdrawals only, never from credits.
bank_account_flows as (
    select
        txn.account_id,
        sum(case when txn.trans_type = 'credit' and txn.trans_date > bank_dates.start_3m then txn.amount else 0 end)
            as credit_sum_3m,
        count(*) filter (where txn.trans_type = 'credit' and txn.trans_date > bank_dates.start_3m)
            as credit_count_3m,
        sum(
            case
                when txn.trans_type in ('debit', 'cash withdrawal') and txn.trans_date > bank_dates.start_3m
                    then txn.amount
                else 0
            end
        ) as debit_sum_3m,
        count(*) filter (
            where txn.trans_type in ('debit', 'cash withdrawal') and txn.trans_date > bank_dates.start_3m
        ) as debit_count_3m,
        sum(case when txn.trans_type = 'credit' and txn.trans_date > bank_dates.start_6m then txn.amount else 0 end)
            as credit_sum_6m,
        count(*) filter (where txn.trans_type = 'credit' and txn.trans_date > bank_dates.start_6m)
            as credit_count_6m,
        sum(
            case
                when txn.trans_type in ('debit', 'cash withdrawal') and txn.trans_date > bank_dates.start_6m
                    then txn.amount
                else 0
            end
        ) as debit_sum_6m,
        count(*) filter (
            where txn.trans_type in ('debit', 'cash withdrawal') and txn.trans_date > bank_dates.start_6m
        ) as debit_count_6m,
        sum(case when txn.trans_type = 'credit' then txn.amount else 0 end) as credit_sum_12m,
        count(*) filter (where txn.trans_type = 'credit') as credit_count_12m,
        sum(case when txn.trans_type in ('debit', 'cash withdrawal') then txn.amount else 0 end) as debit_sum_12m,
        count(*) filter (where txn.trans_type in ('debit', 'cash withdrawal')) as debit_count_12m,
        count(*) as transactions_12m,
        count(*) filter (where txn.operation in ('credit in cash', 'withdrawal in cash')) as cash_transactions_12m,
        count(*) filter (where txn.operation = 'credit card withdrawal') as card_transactions_12m,
        count(*) filter (
            where txn.operation in ('collection from another bank', 'remittance to another bank')
        ) as transfer_transactions_12m,
        count(*) filter (where txn.k_symbol = 'sanction interest if negative balance')
            as sanction_interest_events_12m
    from read_parquet('{stage}/transactions/*/*.parquet', hive_partitioning = true) as txn, bank_dates
    where txn.trans_date > bank_dates.start_12m and txn.trans_date <= bank_dates.as_of_date
    group by txn.account_id
),

-- Every account with transactions up to the as-of date; one quiet all year has zero sums.
bank_account_stats as (
    select
        balances.*,
        coalesce(flows.credit_sum_3m, 0) as credit_sum_3m,
        coalesce(flows.credit_count_3m, 0) as credit_count_3m,
        coalesce(flows.debit_sum_3m, 0) as debit_sum_3m,
        coalesce(flows.debit_count_3m, 0) as debit_count_3m,
        coalesce(flows.credit_sum_6m, 0) as credit_sum_6m,
        coalesce(flows.credit_count_6m, 0) as credit_count_6m,
        coalesce(flows.debit_sum_6m, 0) as debit_sum_6m,
        coalesce(flows.debit_count_6m, 0) as debit_count_6m,
        coalesce(flows.credit_sum_12m, 0) as credit_sum_12m,
        coalesce(flows.credit_count_12m, 0) as credit_count_12m,
        coalesce(flows.debit_sum_12m, 0) as debit_sum_12m,
        coalesce(flows.debit_count_12m, 0) as debit_count_12m,
        coalesce(flows.transactions_12m, 0) as transactions_12m,
        coalesce(flows.cash_transactions_12m, 0) as cash_transactions_12m,
        coalesce(flows.card_transactions_12m, 0) as card_transactions_12m,
        coalesce(flows.transfer_transactions_12m, 0) as transfer_transactions_12m,
        coalesce(flows.sanction_interest_events_12m, 0) as sanction_interest_events_12m
    from bank_account_balances as balances
    left join bank_account_flows as flows
        on balances.account_id = flows.account_id
),

-- int_client_transactions: the accounts the client owns (whenever opened), with transactions.
bank_client_transactions as (
    select
        bank_client_accounts.client_id,
        sum(stats.credit_sum_3m) as credit_sum_3m,
        sum(stats.credit_count_3m) as credit_count_3m,
        sum(stats.debit_sum_3m) as debit_sum_3m,
        sum(stats.debit_count_3m) as debit_count_3m,
        sum(stats.credit_sum_6m) as credit_sum_6m,
        sum(stats.credit_count_6m) as credit_count_6m,
        sum(stats.debit_sum_6m) as debit_sum_6m,
        sum(stats.debit_count_6m) as debit_count_6m,
        sum(stats.credit_sum_12m) as credit_sum_12m,
        sum(stats.credit_count_12m) as credit_count_12m,
        sum(stats.debit_sum_12m) as debit_sum_12m,
        sum(stats.debit_count_12m) as debit_count_12m,
        max(stats.last_transaction_date) as last_transaction_date,
        sum(stats.transactions_12m) as transactions_12m,
        sum(stats.cash_transactions_12m) as cash_transactions_12m,
        sum(stats.card_transactions_12m) as card_transactions_12m,
        sum(stats.transfer_transactions_12m) as transfer_transactions_12m
    from bank_client_accounts
    inner join bank_account_stats as stats
        on bank_client_accounts.account_id = stats.account_id
    where bank_client_accounts.is_owner
    group by bank_client_accounts.client_id
),

-- int_client_banking: the accounts the client owns, opened on or before the as-of date.
bank_owned as (
    select bank_client_accounts.*
    from bank_client_accounts, bank_dates
    where bank_client_accounts.is_owner and bank_client_accounts.opened_on <= bank_dates.as_of_date
),

bank_primary_account as (
    -- the first opened account (ties by account id) gives the district and statement frequency
    select
        client_id,
        district_id,
        statement_frequency
    from bank_owned
    qualify row_number() over (partition by client_id order by opened_on, account_id) = 1
),

bank_owned_balances as (
    -- balances summed over the owned accounts that have transactions; the AUM proxy averages the checkpoints
    -- of the as-of date and the 11 months before
    select
        bank_owned.client_id,
        sum(stats.balance_0) as current_balance,
        sum(stats.balance_3) as balance_3m_ago,
        sum(stats.balance_6) as balance_6m_ago,
        sum(stats.balance_12) as balance_12m_ago,
        sum(
            list_avg([
                stats.balance_0, stats.balance_1, stats.balance_2, stats.balance_3, stats.balance_4, stats.balance_5,
                stats.balance_6, stats.balance_7, stats.balance_8, stats.balance_9, stats.balance_10, stats.balance_11
            ])
        ) as avg_balance_12m,
        max(stats.days_negative_balance_12m) as days_negative_balance_12m,
        sum(stats.sanction_interest_events_12m) as sanction_interest_events_12m
    from bank_owned
    inner join bank_account_stats as stats
        on bank_owned.account_id = stats.account_id
    group by bank_owned.client_id
),

bank_loans as (
    select
        loan_id,
        account_id,
        granted_date as granted_on,
        cast(amount as decimal(18, 2)) as loan_amount,
        loan_status
    from read_parquet('{stage}/loans/*.parquet')
),

bank_latest_loan as (
    -- the latest loan granted on or before the as-of date (ties by loan id)
    select
        bank_owned.client_id,
        bank_loans.loan_status,
        bank_loans.loan_amount
    from bank_loans
    inner join bank_owned
        on bank_loans.account_id = bank_owned.account_id
    cross join bank_dates
    where bank_loans.granted_on <= bank_dates.as_of_date
    qualify row_number() over (
        partition by bank_owned.client_id order by bank_loans.granted_on desc, bank_loans.loan_id desc
    ) = 1
),

bank_loan_history as (
    -- problem loans: every loan of the owned accounts, with no as-of cut-off
    select
        bank_owned.client_id,
        count(*) filter (
            where bank_loans.loan_status in ('finished, loan not paid', 'running, client in debt')
        ) as problem_loan_count
    from bank_loans
    inner join bank_owned
        on bank_loans.account_id = bank_owned.account_id
    group by bank_owned.client_id
),

bank_client_banking as (
    select
        bank_primary_account.client_id,
        bank_primary_account.district_id,
        bank_primary_account.statement_frequency,
        bank_owned_balances.current_balance,
        bank_owned_balances.balance_3m_ago,
        bank_owned_balances.balance_6m_ago,
        bank_owned_balances.balance_12m_ago,
        bank_owned_balances.avg_balance_12m,
        coalesce(bank_owned_balances.days_negative_balance_12m, 0) as days_negative_balance_12m,
        coalesce(bank_owned_balances.sanction_interest_events_12m, 0) as sanction_interest_events_12m,
        bank_latest_loan.loan_status as latest_loan_status,
        bank_latest_loan.loan_amount as latest_loan_amount,
        coalesce(bank_loan_history.problem_loan_count, 0) as problem_loan_count
    from bank_primary_account
    left join bank_owned_balances
        on bank_primary_account.client_id = bank_owned_balances.client_id
    left join bank_latest_loan
        on bank_primary_account.client_id = bank_latest_loan.client_id
    left join bank_loan_history
        on bank_primary_account.client_id = bank_loan_history.client_id
),

-- int_client_products: accounts (owned or not) opened on or before the as-of date, cards of the client's
-- dispositions, loans and standing orders of the owned accounts, each as of the as-of date.
bank_accounts_held as (
    select
        bank_client_accounts.client_id,
        count(*) as account_count,
        count(*) filter (where bank_client_accounts.opened_on > bank_dates.start_12m) as accounts_opened_12m,
        min(bank_client_accounts.opened_on) as first_account_opened_on,
        max(bank_client_accounts.opened_on) as last_account_opened_on
    from bank_client_accounts, bank_dates
    where bank_client_accounts.opened_on <= bank_dates.as_of_date
    group by bank_client_accounts.client_id
),

bank_cards_held as (
    select
        bank_client_accounts.client_id,
        count(*) as card_count,
        count(*) filter (where cards.card_type = 'junior') as junior_card_count,
        count(*) filter (where cards.card_type = 'classic') as classic_card_count,
        count(*) filter (where cards.card_type = 'gold') as gold_card_count,
        min(cards.issued_date) as first_card_issued_on,
        max(cards.issued_date) as last_card_issued_on
    from read_parquet('{stage}/cards/*.parquet') as cards
    inner join bank_client_accounts
        on cards.disp_id = bank_client_accounts.disp_id
    cross join bank_dates
    where cards.issued_date <= bank_dates.as_of_date
    group by bank_client_accounts.client_id
),

bank_loans_held as (
    select
        bank_client_accounts.client_id,
        count(*) as loan_count,
        min(bank_loans.granted_on) as first_loan_granted_on,
        max(bank_loans.granted_on) as last_loan_granted_on
    from bank_loans
    inner join bank_client_accounts
        on bank_loans.account_id = bank_client_accounts.account_id
    cross join bank_dates
    where bank_client_accounts.is_owner and bank_loans.granted_on <= bank_dates.as_of_date
    group by bank_client_accounts.client_id
),

bank_orders_held as (
    -- an order with no start date counts (as started on the as-of date) but gives no date
    select
        bank_client_accounts.client_id,
        count(*) as standing_order_count,
        max(orders.start_date) as last_standing_order_started_on
    from read_parquet('{stage}/standing_orders/*.parquet') as orders
    inner join bank_client_accounts
        on orders.account_id = bank_client_accounts.account_id
    cross join bank_dates
    where
        bank_client_accounts.is_owner
        and coalesce(orders.start_date, bank_dates.as_of_date) <= bank_dates.as_of_date
    group by bank_client_accounts.client_id
),

bank_client_products as (
    select
        bank_accounts_held.client_id,
        bank_accounts_held.account_count,
        bank_accounts_held.accounts_opened_12m,
        coalesce(bank_cards_held.card_count, 0) as card_count,
        coalesce(bank_cards_held.junior_card_count, 0) as junior_card_count,
        coalesce(bank_cards_held.classic_card_count, 0) as classic_card_count,
        coalesce(bank_cards_held.gold_card_count, 0) as gold_card_count,
        coalesce(bank_loans_held.loan_count, 0) as loan_count,
        coalesce(bank_orders_held.standing_order_count, 0) as standing_order_count,
        least(
            bank_accounts_held.first_account_opened_on,
            coalesce(bank_cards_held.first_card_issued_on, bank_accounts_held.first_account_opened_on),
            coalesce(bank_loans_held.first_loan_granted_on, bank_accounts_held.first_account_opened_on)
        ) as first_product_date,
        greatest(
            bank_accounts_held.last_account_opened_on,
            coalesce(bank_cards_held.last_card_issued_on, bank_accounts_held.last_account_opened_on),
            coalesce(bank_loans_held.last_loan_granted_on, bank_accounts_held.last_account_opened_on),
            coalesce(bank_orders_held.last_standing_order_started_on, bank_accounts_held.last_account_opened_on)
        ) as last_product_date
    from bank_accounts_held
    left join bank_cards_held
        on bank_accounts_held.client_id = bank_cards_held.client_id
    left join bank_loans_held
        on bank_accounts_held.client_id = bank_loans_held.client_id
    left join bank_orders_held
        on bank_accounts_held.client_id = bank_orders_held.client_id
),

-- One row per client in any of the three models; a model's columns are null where it has no row.
bank_floor as (
    select
        bank_clients.client_id,
        bank_client_banking.district_id,
        bank_client_banking.statement_frequency,
        bank_client_banking.current_balance,
        bank_client_banking.balance_3m_ago,
        bank_client_banking.balance_6m_ago,
        bank_client_banking.balance_12m_ago,
        bank_client_banking.avg_balance_12m,
        bank_client_banking.days_negative_balance_12m,
        bank_client_banking.sanction_interest_events_12m,
        bank_client_banking.latest_loan_status,
        bank_client_banking.latest_loan_amount,
        bank_client_banking.problem_loan_count,
        bank_client_transactions.credit_sum_3m,
        bank_client_transactions.credit_count_3m,
        bank_client_transactions.debit_sum_3m,
        bank_client_transactions.debit_count_3m,
        bank_client_transactions.credit_sum_6m,
        bank_client_transactions.credit_count_6m,
        bank_client_transactions.debit_sum_6m,
        bank_client_transactions.debit_count_6m,
        bank_client_transactions.credit_sum_12m,
        bank_client_transactions.credit_count_12m,
        bank_client_transactions.debit_sum_12m,
        bank_client_transactions.debit_count_12m,
        bank_client_transactions.last_transaction_date,
        bank_client_transactions.transactions_12m,
        bank_client_transactions.cash_transactions_12m,
        bank_client_transactions.card_transactions_12m,
        bank_client_transactions.transfer_transactions_12m,
        bank_client_products.account_count,
        bank_client_products.accounts_opened_12m,
        bank_client_products.card_count,
        bank_client_products.junior_card_count,
        bank_client_products.classic_card_count,
        bank_client_products.gold_card_count,
        bank_client_products.loan_count,
        bank_client_products.standing_order_count,
        bank_client_products.first_product_date,
        bank_client_products.last_product_date
    from (
        select client_id from bank_client_products
        union
        select client_id from bank_client_transactions
    ) as bank_clients
    left join bank_client_banking
        on bank_clients.client_id = bank_client_banking.client_id
    left join bank_client_transactions
        on bank_clients.client_id = bank_client_transactions.client_id
    left join bank_client_products
        on bank_clients.client_id = bank_client_products.client_id
),

-- ---------------------------------------------------------------- web
-- The 12-month window (web and retail): date > as_of_date - 12 months (month arithmetic, clamped to the
-- month's end, as dbt.dateadd) and <= as_of_date.
web_window as (
    select
        as_of_date,
        cast(as_of_date + interval (-12) month as date) as window_start
    from as_of
),

-- Visitor map (the latest snapshot, not dated): only unambiguous links, and a visitor must still point to
-- exactly one client. Ids stay strings (leading zeros).
web_visitors as (
    select
        full_visitor_id,
        min(client_id) as client_id
    from read_parquet('{stage}/visitor_map/*.parquet')
    where is_ambiguous = false
    group by full_visitor_id
    having count(distinct client_id) = 1
),

-- The clients' sessions up to the as-of date: the one pass over ga_sessions.
web_sessions as materialized (
    select
        s.session_id,
        v.client_id,
        s.session_date,
        s.channel_grouping,
        s.device_category,
        s.pageviews,
        s.campaign,
        s.transactions,
        s.country,
        s.city,
        s.session_date > w.window_start as is_in_12m
    from read_parquet('{stage}/ga_sessions/*/*.parquet', hive_partitioning = true) as s
    inner join web_visitors as v
        on s.full_visitor_id = v.full_visitor_id
    cross join web_window as w
    where s.session_date <= w.as_of_date
),

web_totals as (
    select
        client_id,
        max(session_date) as last_web_visit_date,
        count(*) filter (where is_in_12m) as sessions_12m,
        -- "else 0": a client with only older sessions gets 0, not null
        sum(case when is_in_12m then pageviews else 0 end) as pageviews_12m,
        count(*) filter (where is_in_12m and device_category in ('mobile', 'tablet')) as mobile_12m,
        count(*) filter (where is_in_12m and channel_grouping = 'Organic Search') as organic_search_12m,
        count(*) filter (where is_in_12m and channel_grouping = 'Direct') as direct_12m,
        count(*) filter (where is_in_12m and channel_grouping = 'Paid Search') as paid_search_12m,
        count(*) filter (where is_in_12m and channel_grouping = 'Referral') as referral_12m,
        count(*) filter (where is_in_12m and channel_grouping = 'Social') as social_12m,
        count(*) filter (where is_in_12m and channel_grouping = 'Display') as display_12m,
        count(*) filter (where is_in_12m and channel_grouping = 'Affiliates') as affiliates_12m,
        count(*) filter (where is_in_12m and coalesce(campaign, '(not set)') != '(not set)') as campaign_12m,
        count(*) filter (
            where is_in_12m and coalesce(campaign, '(not set)') != '(not set)' and transactions > 0
        ) as conversions_12m
    from web_sessions
    group by client_id
),

-- Top content section: PAGE hits of the client's 12m sessions (the one pass over ga_hits); most hits, ties to
-- the first name alphabetically.
web_content as (
    select
        ws.client_id,
        h.content_group1 as content_category,
        count(*) as hit_count
    from read_parquet('{stage}/ga_hits/*/*.parquet', hive_partitioning = true) as h
    inner join web_sessions as ws
        on h.session_id = ws.session_id
    cross join web_window as w
    where
        ws.is_in_12m
        and h.hit_type = 'PAGE'
        and h.content_group1 is not null
        -- a hit's partition is its session's day: read only the window's partitions
        and h.session_date > w.window_start
        and h.session_date <= w.as_of_date
    group by ws.client_id, h.content_group1
),

web_top_content as (
    select
        client_id,
        first(content_category order by hit_count desc, content_category asc) as top_content_category
    from web_content
    group by client_id
),

-- Geography: the most frequent country and city over all sessions to date; "(not set)" is no place.
web_countries as (
    select client_id, country, count(*) as session_count
    from web_sessions
    where country is not null and country != '(not set)'
    group by client_id, country
),

web_cities as (
    select client_id, city, count(*) as session_count
    from web_sessions
    where city is not null and city != '(not set)'
    group by client_id, city
),

web_top_country as (
    select client_id, first(country order by session_count desc, country asc) as web_country
    from web_countries
    group by client_id
),

web_top_city as (
    select client_id, first(city order by session_count desc, city asc) as web_city
    from web_cities
    group by client_id
),

web_floor as (
    select
        t.client_id,
        cast(t.sessions_12m as integer) as web_sessions_12m,
        cast(t.pageviews_12m as integer) as web_pageviews_12m,
        t.last_web_visit_date,
        cast(t.mobile_12m as integer) as mobile_sessions_12m,
        cast(t.mobile_12m as double) / nullif(t.sessions_12m, 0) as mobile_share,
        cast(t.organic_search_12m as double) / nullif(t.sessions_12m, 0) as organic_search_share,
        cast(t.direct_12m as double) / nullif(t.sessions_12m, 0) as direct_share,
        cast(t.paid_search_12m as double) / nullif(t.sessions_12m, 0) as paid_search_share,
        cast(t.referral_12m as double) / nullif(t.sessions_12m, 0) as referral_share,
        cast(t.social_12m as double) / nullif(t.sessions_12m, 0) as social_share,
        cast(t.display_12m as double) / nullif(t.sessions_12m, 0) as display_share,
        cast(t.affiliates_12m as double) / nullif(t.sessions_12m, 0) as affiliates_share,
        c.top_content_category,
        cast(t.campaign_12m as integer) as campaign_sessions_12m,
        cast(t.conversions_12m as integer) as campaign_conversions_12m,
        cast(t.conversions_12m as double) / nullif(t.campaign_12m, 0) as campaign_response_rate,
        co.web_country,
        ci.web_city
    from web_totals as t
    left join web_top_content as c on t.client_id = c.client_id
    left join web_top_country as co on t.client_id = co.client_id
    left join web_top_city as ci on t.client_id = ci.client_id
),

-- ---------------------------------------------------------------- retail
-- Order lines up to the as-of date: the one pass over retail_orders (amounts at the staging decimals).
retail_lines as materialized (
    select
        r.client_id,
        r.order_id,
        r.order_date,
        r.industry,
        r.product,
        cast(r.sales as decimal(18, 4)) as sales,
        r.quantity,
        cast(r.discount as decimal(9, 4)) as discount,
        cast(r.profit as decimal(18, 4)) as profit,
        r.order_date > w.window_start as is_in_12m
    from read_parquet('{stage}/retail_orders/*/*.parquet', hive_partitioning = true) as r
    cross join web_window as w
    where r.order_date <= w.as_of_date
),

retail_totals as (
    select
        client_id,
        count(distinct order_id) as order_count,
        sum(sales) as sales,
        sum(quantity) as quantity,
        -- sales-weighted discount (decimal / decimal: a double)
        sum(sales * discount) / nullif(sum(sales), 0) as avg_discount,
        sum(profit) as profit,
        sum(case when is_in_12m then profit else 0 end) as profit_12m,
        max(order_date) as last_order_date
    from retail_lines
    group by client_id
),

-- Favourite product: highest sales (rounded to 4 decimals), ties to the first name alphabetically.
retail_products as (
    select client_id, product, round(sum(sales), 4) as product_sales
    from retail_lines
    where product is not null
    group by client_id, product
),

-- Favourite industry: most lines, ties to the first name alphabetically.
retail_industries as (
    select client_id, industry, count(*) as line_count
    from retail_lines
    where industry is not null
    group by client_id, industry
),

retail_top_product as (
    select client_id, first(product order by product_sales desc, product asc) as favourite_product
    from retail_products
    group by client_id
),

retail_top_industry as (
    select client_id, first(industry order by line_count desc, industry asc) as favourite_industry
    from retail_industries
    group by client_id
),

retail_floor as (
    select
        t.client_id,
        cast(t.order_count as integer) as retail_order_count,
        cast(round(t.sales, 4) as double) as retail_sales,
        cast(t.quantity as integer) as retail_quantity,
        cast(t.avg_discount as double) as retail_avg_discount,
        cast(round(t.profit, 4) as double) as retail_profit,
        cast(round(t.profit_12m, 4) as double) as retail_profit_12m,
        p.favourite_product,
        i.favourite_industry,
        t.last_order_date
    from retail_totals as t
    left join retail_top_product as p on t.client_id = p.client_id
    left join retail_top_industry as i on t.client_id = i.client_id
),

-- ---------------------------------------------------------------- customer_360
-- The CRM clients (the stage table holds one row per client: Spark kept the latest of each).
clients as (
    select
        client_id,
        birth_date,
        gender,
        marital_status,
        is_head_of_household,
        home_ownership,
        occupation,
        income_band,
        cars_owned,
        cast(client_created_at as date) as customer_since
    from read_parquet('{stage}/crm_customers/*.parquet')
),

districts as (
    select
        district_id,
        district_name,
        region,
        cast(urban_ratio as double) as urban_ratio_pct,
        average_salary,
        cast(unemployment_96 as double) as unemployment_rate,
        cast(crimes_96 as double) * 1000 / nullif(inhabitants, 0) as crimes_per_1000
    from read_parquet('{stage}/districts/*.parquet')
),

-- The three reference seeds, inline.
age_bands (age_band, min_age, max_age, life_stage) as (
    values
        ('under_25', 0, 24, 'young adult'),
        ('25_34', 25, 34, 'young adult'),
        ('35_44', 35, 44, 'family building'),
        ('45_54', 45, 54, 'established'),
        ('55_64', 55, 64, 'pre-retirement'),
        ('65_plus', 65, 200, 'retired')
),

income_bands (income_band, expected_monthly_income, points) as (
    values ('under_25k', 8000, 0), ('25k_50k', 11000, 25), ('50k_100k', 16000, 50), ('100k_200k', 25000, 75),
        ('200k_plus', 40000, 100)
),

loan_points (loan_status, points) as (
    values ('finished, no problems', 50), ('finished, loan not paid', -300), ('running, OK so far', 0),
        ('running, client in debt', -300)
),

-- Every input joined per client, and the credit score's points.
joined as (
    select
        c.*,
        as_of.as_of_date,
        year(as_of.as_of_date) - year(c.birth_date)
        - case when (month(as_of.as_of_date), day(as_of.as_of_date)) < (month(c.birth_date), day(c.birth_date))
            then 1 else 0 end as age,
        date_diff('day', c.customer_since, as_of.as_of_date) / 365.25 as tenure_years,
        b.* exclude (client_id),
        w.* exclude (client_id),
        r.* exclude (client_id),
        d.district_name,
        d.region,
        d.urban_ratio_pct,
        d.average_salary as district_average_salary,
        d.unemployment_rate as district_unemployment_rate,
        d.crimes_per_1000 as district_crimes_per_1000,
        i.expected_monthly_income,
        cast(round(150 * least(1.0, greatest(0.0, coalesce(b.avg_balance_12m, 0)) / 100000.0)) as integer)
            as score_balance_points,
        cast(least(100, 10 * floor(date_diff('day', c.customer_since, as_of.as_of_date) / 365.25)) as integer)
            as score_tenure_points,
        coalesce(i.points, 0) as score_income_points,
        coalesce(l.points, 0) as score_loan_points,
        -1 * least(200, 2 * coalesce(b.days_negative_balance_12m, 0)) as score_negative_balance_points,
        -1 * least(150, 25 * coalesce(b.sanction_interest_events_12m, 0)) as score_sanction_points,
        case when coalesce(b.credit_sum_12m, 0) - coalesce(b.debit_sum_12m, 0) > 0 then 50 else 0 end
            as score_net_flow_points
    from clients as c
    cross join as_of
    left join bank_floor as b on c.client_id = b.client_id
    left join web_floor as w on c.client_id = w.client_id
    left join retail_floor as r on c.client_id = r.client_id
    left join districts as d on b.district_id = d.district_id
    left join income_bands as i on c.income_band = i.income_band
    left join loan_points as l on b.latest_loan_status = l.loan_status
),

valued as (
    select
        j.*,
        (
            0.015 * greatest(0.0, coalesce(j.avg_balance_12m, 0))
            + 0.005 * coalesce(j.debit_sum_12m, 0)
            + coalesce(j.retail_profit_12m, 0)
        ) * least(20.0, greatest(1.0, (80 - j.age) / 2.0)) as lifetime_value_estimate,
        coalesce(j.web_sessions_12m, 0) - coalesce(j.mobile_sessions_12m, 0) as desktop_sessions_12m,
        cast(greatest(0, least(1000, 500 + j.score_balance_points + j.score_tenure_points + j.score_income_points
            + j.score_loan_points + j.score_negative_balance_points + j.score_sanction_points
            + j.score_net_flow_points)) as integer) as credit_score
    from joined as j
),

-- RFM quintiles and the value percentile over all clients (ties broken by client_id).
ranked as (
    select
        v.*,
        ntile(5) over (
            order by coalesce(date_diff('day', v.last_transaction_date, v.as_of_date), 999999) desc, v.client_id
        ) as recency_score,
        ntile(5) over (order by coalesce(v.transactions_12m, 0), v.client_id) as frequency_score,
        ntile(5) over (order by coalesce(v.credit_sum_12m, 0), v.client_id) as monetary_score,
        percent_rank() over (order by coalesce(v.lifetime_value_estimate, 0), v.client_id) as value_percentile
    from valued as v
)

select
    client_id,
    as_of_date,
    cast(age as integer) as age,
    ab.age_band,
    ab.life_stage,
    gender,
    marital_status,
    is_head_of_household,
    home_ownership,
    occupation,
    income_band,
    cars_owned,
    customer_since,
    cast(round(tenure_years, 2) as double) as tenure_years,
    first_product_date,
    last_product_date,
    cast(date_diff('day', last_product_date, as_of_date) as integer) as days_since_last_product,
    last_transaction_date,
    cast(date_diff('day', last_transaction_date, as_of_date) as integer) as days_since_last_transaction,
    cast(coalesce(transactions_12m, 0) as integer) as transactions_12m,
    last_web_visit_date,
    cast(date_diff('day', last_web_visit_date, as_of_date) as integer) as days_since_last_web_visit,
    cast(coalesce(web_sessions_12m, 0) as integer) as web_sessions_12m,
    cast(coalesce(accounts_opened_12m, 0) as integer) as accounts_opened_12m,
    cast(current_balance - balance_3m_ago as double) as balance_growth_3m,
    cast(current_balance - balance_6m_ago as double) as balance_growth_6m,
    cast(current_balance - balance_12m_ago as double) as balance_growth_12m,
    cast(current_balance as double) as current_balance,
    cast(avg_balance_12m as double) as avg_balance_12m,
    cast(coalesce(credit_sum_12m, 0) - coalesce(debit_sum_12m, 0) as double) as net_flow_12m,
    cast(coalesce(credit_sum_3m, 0) as double) as credit_sum_3m,
    cast(coalesce(credit_count_3m, 0) as integer) as credit_count_3m,
    cast(credit_sum_3m as double) / nullif(credit_count_3m, 0) as avg_credit_3m,
    cast(coalesce(debit_sum_3m, 0) as double) as debit_sum_3m,
    cast(coalesce(debit_count_3m, 0) as integer) as debit_count_3m,
    cast(debit_sum_3m as double) / nullif(debit_count_3m, 0) as avg_debit_3m,
    cast(coalesce(credit_sum_6m, 0) as double) as credit_sum_6m,
    cast(coalesce(credit_count_6m, 0) as integer) as credit_count_6m,
    cast(credit_sum_6m as double) / nullif(credit_count_6m, 0) as avg_credit_6m,
    cast(coalesce(debit_sum_6m, 0) as double) as debit_sum_6m,
    cast(coalesce(debit_count_6m, 0) as integer) as debit_count_6m,
    cast(debit_sum_6m as double) / nullif(debit_count_6m, 0) as avg_debit_6m,
    cast(coalesce(credit_sum_12m, 0) as double) as credit_sum_12m,
    cast(coalesce(credit_count_12m, 0) as integer) as credit_count_12m,
    cast(credit_sum_12m as double) / nullif(credit_count_12m, 0) as avg_credit_12m,
    cast(coalesce(debit_sum_12m, 0) as double) as debit_sum_12m,
    cast(coalesce(debit_count_12m, 0) as integer) as debit_count_12m,
    cast(debit_sum_12m as double) / nullif(debit_count_12m, 0) as avg_debit_12m,
    cast(retail_sales as double) as retail_sales,
    cast(retail_profit as double) as retail_profit,
    cast(lifetime_value_estimate as double) as lifetime_value_estimate,
    cast(least(1.0, coalesce(credit_sum_12m, 0) / nullif(12.0 * expected_monthly_income, 0)) as double)
        as share_of_wallet,
    latest_loan_status as loan_status,
    cast(latest_loan_amount as double) as loan_amount,
    cast(coalesce(problem_loan_count, 0) as integer) as problem_loan_count,
    cast(coalesce(days_negative_balance_12m, 0) as integer) as days_negative_balance_12m,
    cast(coalesce(sanction_interest_events_12m, 0) as integer) as sanction_interest_events_12m,
    credit_score,
    case
        when credit_score >= 800 then 'excellent'
        when credit_score >= 650 then 'good'
        when credit_score >= 500 then 'fair'
        when credit_score >= 350 then 'poor'
        else 'very poor'
    end as credit_score_band,
    score_balance_points,
    score_tenure_points,
    score_income_points,
    score_loan_points,
    cast(score_negative_balance_points as integer) as score_negative_balance_points,
    cast(score_sanction_points as integer) as score_sanction_points,
    score_net_flow_points,
    district_unemployment_rate,
    district_crimes_per_1000,
    -- the channel with the most use in 12 months (ties: mobile, web, card, transfer, cash); none without any use
    case
        when greatest(coalesce(cash_transactions_12m, 0), coalesce(card_transactions_12m, 0),
            coalesce(transfer_transactions_12m, 0), desktop_sessions_12m, coalesce(mobile_sessions_12m, 0)) = 0
            then null
        when coalesce(mobile_sessions_12m, 0) >= greatest(coalesce(cash_transactions_12m, 0),
            coalesce(card_transactions_12m, 0), coalesce(transfer_transactions_12m, 0), desktop_sessions_12m)
            then 'mobile'
        when desktop_sessions_12m >= greatest(coalesce(cash_transactions_12m, 0),
            coalesce(card_transactions_12m, 0), coalesce(transfer_transactions_12m, 0))
            then 'web'
        when coalesce(card_transactions_12m, 0) >= greatest(coalesce(cash_transactions_12m, 0),
            coalesce(transfer_transactions_12m, 0))
            then 'card'
        when coalesce(transfer_transactions_12m, 0) >= coalesce(cash_transactions_12m, 0) then 'transfer'
        else 'cash'
    end as preferred_channel,
    cast(coalesce(cash_transactions_12m, 0) as integer) as cash_transactions_12m,
    cast(coalesce(card_transactions_12m, 0) as integer) as card_transactions_12m,
    cast(coalesce(transfer_transactions_12m, 0) as integer) as transfer_transactions_12m,
    cast(coalesce(web_pageviews_12m, 0) as integer) as web_pageviews_12m,
    cast(mobile_share as double) as mobile_share,
    cast(organic_search_share as double) as organic_search_share,
    cast(direct_share as double) as direct_share,
    cast(paid_search_share as double) as paid_search_share,
    cast(referral_share as double) as referral_share,
    cast(social_share as double) as social_share,
    cast(display_share as double) as display_share,
    cast(affiliates_share as double) as affiliates_share,
    top_content_category,
    cast(coalesce(campaign_sessions_12m, 0) as integer) as campaign_sessions_12m,
    cast(coalesce(campaign_conversions_12m, 0) as integer) as campaign_conversions_12m,
    cast(campaign_response_rate as double) as campaign_response_rate,
    statement_frequency,
    cast(coalesce(account_count, 0) as integer) as account_count,
    cast(coalesce(card_count, 0) as integer) as card_count,
    cast(coalesce(junior_card_count, 0) as integer) as junior_card_count,
    cast(coalesce(classic_card_count, 0) as integer) as classic_card_count,
    cast(coalesce(gold_card_count, 0) as integer) as gold_card_count,
    cast(coalesce(loan_count, 0) as integer) as loan_count,
    cast(coalesce(standing_order_count, 0) as integer) as standing_order_count,
    coalesce(account_count, 0) > 0 as has_account,
    coalesce(card_count, 0) > 0 as has_card,
    coalesce(loan_count, 0) > 0 as has_loan,
    coalesce(standing_order_count, 0) > 0 as has_standing_order,
    coalesce(web_sessions_12m, 0) > 0 as is_web_user,
    coalesce(retail_order_count, 0) > 0 as is_retail_customer,
    cast((coalesce(account_count, 0) > 0)::int + (coalesce(card_count, 0) > 0)::int
        + (coalesce(loan_count, 0) > 0)::int + (coalesce(standing_order_count, 0) > 0)::int
        + (coalesce(retail_order_count, 0) > 0)::int as integer) as product_count,
    cast(coalesce(retail_order_count, 0) as integer) as retail_order_count,
    cast(coalesce(retail_quantity, 0) as integer) as retail_quantity,
    cast(retail_avg_discount as double) as retail_avg_discount,
    favourite_product,
    favourite_industry,
    last_order_date,
    district_id,
    district_name,
    region,
    urban_ratio_pct,
    cast(district_average_salary as integer) as district_average_salary,
    web_country,
    web_city,
    case
        when ranked.tenure_years < 0.5 then 'new'
        when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4 then 'champions'
        when frequency_score >= 4 and recency_score >= 3 then 'loyal'
        when recency_score >= 4 then 'potential'
        when recency_score <= 2 and frequency_score >= 3 then 'at risk'
        when recency_score <= 2 then 'hibernating'
        else 'needs attention'
    end as rfm_segment,
    cast(recency_score as integer) as recency_score,
    cast(frequency_score as integer) as frequency_score,
    cast(monetary_score as integer) as monetary_score,
    case
        when value_percentile >= 0.9 then 'platinum'
        when value_percentile >= 0.7 then 'gold'
        when value_percentile >= 0.4 then 'silver'
        else 'bronze'
    end as value_tier
from ranked
left join age_bands as ab on ranked.age between ab.min_age and ab.max_age
