package postgres

// MigrateTo applies ragd's migrations up to a version, for tests of a
// migration against data in the schema before it.
var MigrateTo = migrate

// MigrationLockKey is the advisory lock Migrate holds.
const MigrationLockKey = migrationLockKey
