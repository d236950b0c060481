      *================================================================*
      * ACCOUNT.CPY                                                    *
      * Account origination system: daily extract of opened accounts.  *
      * Raw source "account". Fixed width, 38 bytes, DISPLAY only.     *
      * Codes are the core system's own (PKDD'99 Czech vocabulary);    *
      * the stage layer translates them.                               *
      *================================================================*
      * One bank account as opened.
       01  ACCOUNT-RECORD.
      *    Account number, unique in the bank, assigned in opening order.
           05  ACCOUNT-ID              PIC 9(9).
      *    District of the branch that holds the account (the design's
      *    branch_id): DISTRICT-ID of the district extract, 1-77.
           05  DISTRICT-ID             PIC 9(3).
      *    Statement frequency: POPLATEK MESICNE monthly, POPLATEK TYDNE
      *    weekly, POPLATEK PO OBRATU after each transaction.
           05  FREQUENCY               PIC X(18).
               88  FREQ-MONTHLY        VALUE 'POPLATEK MESICNE'.
               88  FREQ-WEEKLY         VALUE 'POPLATEK TYDNE'.
               88  FREQ-AFTER-TRANS    VALUE 'POPLATEK PO OBRATU'.
      *    Day the account was opened, YYYYMMDD.
           05  OPEN-DATE               PIC 9(8).
