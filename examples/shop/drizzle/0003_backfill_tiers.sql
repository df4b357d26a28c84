-- Written by hand and never added to the journal.
UPDATE "customers" SET "tier" = 'pro' WHERE "email" LIKE '%@example.com';
