-- The floor of `dbt build`: one hand-written DuckDB query computing a subset of customer_360 straight from the
-- stage Parquet files (no staging views, no tests, no dbt parse). benchmarks/run.py replaces {stage} with the
-- stage zone (e.g. /path/lake/stage) and times `COPY (<this query>) TO <tmp>.parquet`.
--
-- Columns covered (same names and meaning as customer_360):
--   demographics   client_id, as_of_date, age, gender, marital_status, home_ownership, occupation, income_band,
--                  cars_owned, is_head_of_household
--   transactions   credit_sum_3m/6m/12m, credit_count_3m/6m/12m, debit_sum_3m/6m/12m, debit_count_3m/6m/12m
--                  (credit = trans_type 'credit'; debit = 'debit' or 'cash withdrawal'), transactions_12m,
--                  last_transaction_date
--   balances       current_balance (latest balance of every owned account, summed)
--   products       account_count, card_count, loan_count, standing_order_count, has_account, has_card,
--                  has_loan, has_standing_order, product_count (kinds held)
--   web            web_sessions_12m, web_pageviews_12m, last_web_visit_date (through visitor_map)
--   retail         retail_sales, retail_profit, retail_order_count
-- Not covered: scores, segments, RFM, district attributes, channel shares, balance growth, lifetime value.
with

as_of as (
    select max(trans_date) as as_of_date
    from read_parquet('{stage}/transactions/*/*.parquet', hive_partitioning = true)
),

clients as (
    select *
    from read_parquet('{stage}/crm_customers/*.parquet')
    qualify row_number() over (partition by client_id order by updated_at desc) = 1
),

owners as (
    select client_id, account_id, disp_id, disp_type = 'owner' as is_owner
    from read_parquet('{stage}/dispositions/*.parquet')
),

txn as (
    select
        owners.client_id,
        t.account_id,
        t.trans_id,
        t.trans_date,
        t.balance,
        cast(t.amount as double) as amount,
        t.trans_type = 'credit' as is_credit,
        t.trans_type in ('debit', 'cash withdrawal') as is_debit,
        as_of.as_of_date
    from read_parquet('{stage}/transactions/*/*.parquet', hive_partitioning = true) as t
    inner join owners on t.account_id = owners.account_id and owners.is_owner
    cross join as_of
    where t.trans_date <= as_of.as_of_date
),

txn_agg as (
    select
        client_id,
        sum(amount) filter (where is_credit and trans_date > as_of_date - interval 3 month) as credit_sum_3m,
        count(*) filter (where is_credit and trans_date > as_of_date - interval 3 month) as credit_count_3m,
        sum(amount) filter (where is_debit and trans_date > as_of_date - interval 3 month) as debit_sum_3m,
        count(*) filter (where is_debit and trans_date > as_of_date - interval 3 month) as debit_count_3m,
        sum(amount) filter (where is_credit and trans_date > as_of_date - interval 6 month) as credit_sum_6m,
        count(*) filter (where is_credit and trans_date > as_of_date - interval 6 month) as credit_count_6m,
        sum(amount) filter (where is_debit and trans_date > as_of_date - interval 6 month) as debit_sum_6m,
        count(*) filter (where is_debit and trans_date > as_of_date - interval 6 month) as debit_count_6m,
        sum(amount) filter (where is_credit and trans_date > as_of_date - interval 12 month) as credit_sum_12m,
        count(*) filter (where is_credit and trans_date > as_of_date - interval 12 month) as credit_count_12m,
        sum(amount) filter (where is_debit and trans_date > as_of_date - interval 12 month) as debit_sum_12m,
        count(*) filter (where is_debit and trans_date > as_of_date - interval 12 month) as debit_count_12m,
        count(*) filter (where trans_date > as_of_date - interval 12 month) as transactions_12m,
        max(trans_date) as last_transaction_date
    from txn
    group by client_id
),

balances as (
    select client_id, sum(cast(balance as double)) as current_balance
    from (
        select client_id, account_id, arg_max(balance, (trans_date, trans_id)) as balance
        from txn
        group by client_id, account_id
    )
    group by client_id
),

products as (
    select
        owners.client_id,
        count(distinct owners.account_id) filter (where owners.is_owner) as account_count,
        count(distinct cards.card_id) as card_count,
        count(distinct loans.loan_id) filter (where owners.is_owner) as loan_count,
        count(distinct so.order_id) filter (where owners.is_owner) as standing_order_count
    from owners
    left join read_parquet('{stage}/cards/*.parquet') as cards on owners.disp_id = cards.disp_id
    left join read_parquet('{stage}/loans/*.parquet') as loans on owners.account_id = loans.account_id
    left join read_parquet('{stage}/standing_orders/*.parquet') as so on owners.account_id = so.account_id
    group by owners.client_id
),

web as (
    select
        vm.client_id,
        count(*) filter (where cast(s.visit_start_at as date) > as_of.as_of_date - interval 12 month)
            as web_sessions_12m,
        sum(s.pageviews) filter (where cast(s.visit_start_at as date) > as_of.as_of_date - interval 12 month)
            as web_pageviews_12m,
        max(cast(s.visit_start_at as date)) as last_web_visit_date
    from read_parquet('{stage}/ga_sessions/*/*.parquet', hive_partitioning = true) as s
    inner join read_parquet('{stage}/visitor_map/*.parquet') as vm
        on s.full_visitor_id = vm.full_visitor_id and not vm.is_ambiguous
    cross join as_of
    where cast(s.visit_start_at as date) <= as_of.as_of_date
    group by vm.client_id
),

retail as (
    select
        client_id,
        sum(cast(sales as double)) as retail_sales,
        sum(cast(profit as double)) as retail_profit,
        count(distinct order_id) as retail_order_count
    from read_parquet('{stage}/retail_orders/*/*.parquet', hive_partitioning = true)
    where client_id is not null
    group by client_id
)

select
    c.client_id,
    as_of.as_of_date,
    date_diff('year', c.birth_date, as_of.as_of_date) as age,
    c.gender,
    c.marital_status,
    c.home_ownership,
    c.occupation,
    c.income_band,
    c.cars_owned,
    c.is_head_of_household,
    coalesce(t.credit_sum_3m, 0) as credit_sum_3m,
    coalesce(t.credit_count_3m, 0) as credit_count_3m,
    coalesce(t.debit_sum_3m, 0) as debit_sum_3m,
    coalesce(t.debit_count_3m, 0) as debit_count_3m,
    coalesce(t.credit_sum_6m, 0) as credit_sum_6m,
    coalesce(t.credit_count_6m, 0) as credit_count_6m,
    coalesce(t.debit_sum_6m, 0) as debit_sum_6m,
    coalesce(t.debit_count_6m, 0) as debit_count_6m,
    coalesce(t.credit_sum_12m, 0) as credit_sum_12m,
    coalesce(t.credit_count_12m, 0) as credit_count_12m,
    coalesce(t.debit_sum_12m, 0) as debit_sum_12m,
    coalesce(t.debit_count_12m, 0) as debit_count_12m,
    coalesce(t.transactions_12m, 0) as transactions_12m,
    t.last_transaction_date,
    b.current_balance,
    coalesce(p.account_count, 0) as account_count,
    coalesce(p.card_count, 0) as card_count,
    coalesce(p.loan_count, 0) as loan_count,
    coalesce(p.standing_order_count, 0) as standing_order_count,
    coalesce(p.account_count, 0) > 0 as has_account,
    coalesce(p.card_count, 0) > 0 as has_card,
    coalesce(p.loan_count, 0) > 0 as has_loan,
    coalesce(p.standing_order_count, 0) > 0 as has_standing_order,
    (coalesce(p.account_count, 0) > 0)::int + (coalesce(p.card_count, 0) > 0)::int
    + (coalesce(p.loan_count, 0) > 0)::int + (coalesce(p.standing_order_count, 0) > 0)::int as product_count,
    coalesce(w.web_sessions_12m, 0) as web_sessions_12m,
    coalesce(w.web_pageviews_12m, 0) as web_pageviews_12m,
    w.last_web_visit_date,
    coalesce(r.retail_sales, 0) as retail_sales,
    coalesce(r.retail_profit, 0) as retail_profit,
    coalesce(r.retail_order_count, 0) as retail_order_count
from clients as c
cross join as_of
left join txn_agg as t on c.client_id = t.client_id
left join balances as b on c.client_id = b.client_id
left join products as p on c.client_id = p.client_id
left join web as w on c.client_id = w.client_id
left join retail as r on c.client_id = r.client_id
