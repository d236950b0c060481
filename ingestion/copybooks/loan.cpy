      *================================================================*
      * LOAN.CPY                                                       *
      * Loans system: daily extract of granted loans.                  *
      * Raw source "loan". Fixed width, 52 bytes, DISPLAY only.        *
      * At most one loan per account. Amounts in the account currency. *
      *================================================================*
      * One loan as granted, with its status as of the extract.
       01  LOAN-RECORD.
      *    Loan number, unique, assigned in granting order.
           05  LOAN-ID                 PIC 9(9).
      *    The account the loan is paid from (ACCOUNT-ID).
           05  ACCOUNT-ID              PIC 9(9).
      *    Day the loan was granted, YYYYMMDD.
           05  GRANTED-DATE            PIC 9(8).
      *    Amount lent: DURATION times PAYMENTS.
           05  AMOUNT                  PIC S9(9)V99
                                       SIGN IS LEADING SEPARATE.
      *    Duration in months: 12, 24, 36, 48 or 60.
           05  DURATION                PIC 9(3).
      *    Monthly instalment.
           05  PAYMENTS                PIC S9(7)V99
                                       SIGN IS LEADING SEPARATE.
      *    A finished, paid; B finished, not paid; C running, paid so
      *    far; D running, client in debt.
           05  LOAN-STATUS             PIC X(1).
               88  LOAN-FINISHED-OK    VALUE 'A'.
               88  LOAN-FINISHED-UNPAID VALUE 'B'.
               88  LOAN-RUNNING-OK     VALUE 'C'.
               88  LOAN-RUNNING-DEBT   VALUE 'D'.
