      *================================================================*
      * DISTRICT.CPY                                                   *
      * Reference data: demographics of the 77 districts the bank's    *
      * branches are in (PKDD'99 district table A1-A16, in part).      *
      * Raw source "district". Fixed width, 100 bytes, DISPLAY only.   *
      * A numeric field of spaces means "not reported".                *
      *================================================================*
      * One district.
       01  DISTRICT-RECORD.
      *    District code, 1-77 (A1).
           05  DISTRICT-ID             PIC 9(3).
      *    District name, without diacritics (A2).
           05  DISTRICT-NAME           PIC X(30).
      *    Region the district belongs to (A3).
           05  REGION                  PIC X(20).
      *    Number of inhabitants (A4).
           05  INHABITANTS             PIC 9(8).
      *    Share of inhabitants living in towns, percent (A10).
           05  URBAN-RATIO             PIC 9(3)V9.
      *    Average monthly salary (A11).
           05  AVERAGE-SALARY          PIC 9(6).
      *    Unemployment rate 1995, percent (A12); may be not reported.
           05  UNEMPLOYMENT-95         PIC 9(2)V99.
      *    Unemployment rate 1996, percent (A13).
           05  UNEMPLOYMENT-96         PIC 9(2)V99.
      *    Entrepreneurs per 1,000 inhabitants (A14).
           05  ENTREPRENEURS-PER-1000  PIC 9(4).
      *    Crimes committed in 1995 (A15); may be not reported.
           05  CRIMES-95               PIC 9(7).
      *    Crimes committed in 1996 (A16).
           05  CRIMES-96               PIC 9(7).
      *    Reserved.
           05  FILLER                  PIC X(3).
