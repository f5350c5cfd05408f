-- A cost and usage report definition as the Cost and Usage Report API sets
-- it (see nomuck_meta::billing::ReportTarget): the report's name, the key
-- prefix in the bucket, the region the client named, and whether the CSV is
-- gzipped. The defaults are what `nomuck bill report-bucket` always wrote:
-- `nomuck-cost-reports/YYYY-MM.csv`, uncompressed.
ALTER TABLE billing_report_buckets ADD COLUMN report_name TEXT NOT NULL DEFAULT 'nomuck-cost-reports';
ALTER TABLE billing_report_buckets ADD COLUMN s3_prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE billing_report_buckets ADD COLUMN s3_region TEXT NOT NULL DEFAULT '';
ALTER TABLE billing_report_buckets ADD COLUMN gzip INTEGER NOT NULL DEFAULT 0;
