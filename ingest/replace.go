package ingest

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/usage"
)

// Replace gives an existing document new bytes: its next content version,
// with u's content, type and file name, its ingest job, and the tenant's
// quotas checked for the bytes it grows by, in one transaction. Its id,
// tags, metadata and external id stay; a title the uploader gave stays,
// any other is derived again from the new bytes. It is how a source's
// page that changed is updated: the chunks of the current version stay
// searchable until the new version's are in, and chunks whose text did
// not change cost no embedding (the cache).
func (s *Documents) Replace(ctx context.Context, tenantID, id uuid.UUID, u Upload) (Document, error) {
	if u.Content == nil {
		return Document{}, fmt.Errorf("replace document: no content")
	}
	if err := u.Validate(); err != nil {
		return Document{}, err
	}
	sum := u.Content.SHA256()
	var out Document
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var oldSize int64
		if err := tx.QueryRow(ctx, "SELECT size_bytes FROM documents WHERE tenant_id = $1 AND id = $2 AND status <> 'deleting' FOR UPDATE",
			tenantID, id).Scan(&oldSize); err != nil {
			return postgres.NotFound(err, "replace document")
		}
		if err := s.checkUploadQuota(ctx, tx, tenantID, u.Content.Size()-oldSize, 0); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET filename = $3, type = $4, size_bytes = $5, sha256 = $6,
			title = CASE WHEN title_source = 'upload' THEN title ELSE $7 END,
			title_source = CASE WHEN title_source = 'upload' THEN title_source ELSE $8 END
			WHERE tenant_id = $1 AND id = $2`,
			tenantID, id, nilIfEmpty(u.Filename), string(u.Type), u.Content.Size(), sum[:],
			fallbackTitle(nilIfEmpty(u.Filename), u.Type), TitleFilename); err != nil {
			return fmt.Errorf("replace document: %w", err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM document_blob_parts WHERE document_id = $1", id); err != nil {
			return fmt.Errorf("replace document bytes: %w", err)
		}
		if err := writeParts(ctx, tx, id, u.Content); err != nil {
			return fmt.Errorf("replace document bytes: %w", err)
		}
		d, err := s.requeue(ctx, tx, tenantID, id, ReindexOptions{})
		if err != nil {
			return err
		}
		out = d
		return usage.RecordUpload(ctx, tx, tenantID, u.Content.Size())
	})
	if err != nil {
		return Document{}, err
	}
	s.jobs.Enqueued(ctx)
	s.announce(ctx, id)
	return out, nil
}
