      *================================================================*
      * DISPOSITION.CPY                                                *
      * General banking (dispositions database): who may operate which *
      * account. Raw source "gbank". Fixed width, 44 bytes, DISPLAY.   *
      * Every account has exactly one OWNER; some also one DISPONENT.  *
      *================================================================*
      * One client's right on one account.
       01  DISPOSITION-RECORD.
      *    Disposition number, unique, assigned in creation order.
           05  DISP-ID                 PIC 9(9).
      *    The client (client_id of the CRM).
           05  CLIENT-ID               PIC 9(9).
      *    The account (ACCOUNT-ID of the account extract).
           05  ACCOUNT-ID              PIC 9(9).
      *    OWNER holds the account (may order payments and take loans);
      *    DISPONENT is a user allowed to operate it.
           05  DISP-TYPE               PIC X(9).
               88  DISP-OWNER          VALUE 'OWNER'.
               88  DISP-DISPONENT      VALUE 'DISPONENT'.
      *    Day the right was granted, YYYYMMDD (an OWNER's is the
      *    account's opening day).
           05  VALID-FROM              PIC 9(8).
