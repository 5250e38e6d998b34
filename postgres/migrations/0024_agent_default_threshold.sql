-- An agent's score_threshold is now a calibrated relevance in [0, 1], the
-- same scale in every mode and fusion, null meaning the server's default
-- for the mode (which can say "nothing relevant"). A threshold set before
-- was on its mode's or fusion's own scale: BM25 (unbounded), RRF, DBSF or
-- min-max. Only a dense agent's keeps its meaning (the cosine, which the
-- dense relevance is); every other becomes null, and the agent a new
-- version, so that a client holding its ETag sees the change. 0 was the
-- old default ("keep every hit", never chosen to mean that): null too.
UPDATE agents SET retrieval = jsonb_set(retrieval, '{score_threshold}', 'null'),
                  version = version + 1, updated_at = now()
WHERE jsonb_typeof(retrieval->'score_threshold') = 'number'
  AND (retrieval->'score_threshold' = '0'::jsonb
       OR retrieval->>'mode' IS DISTINCT FROM 'dense'
       OR (retrieval->>'score_threshold')::float8 > 1);
