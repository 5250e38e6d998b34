-- An agent's score_threshold is now a calibrated relevance, null meaning
-- the server's default for the mode, which says "nothing relevant" when
-- nothing is. 0 was the old default ("keep every hit", never chosen to
-- mean that), so agents at 0 get the new default.
UPDATE agents SET retrieval = jsonb_set(retrieval, '{score_threshold}', 'null')
WHERE retrieval->'score_threshold' = '0'::jsonb;
