package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// space is an embedding space: model@dimensions.
type space struct {
	Model      string `json:"model"`
	Dimensions int    `json:"dimensions"`
}

func (s space) String() string { return fmt.Sprintf("%s@%d", s.Model, s.Dimensions) }

// migration is what ragctl shows of an embedding migration.
type migration struct {
	ID                    string `json:"id"`
	State                 string `json:"state"`
	From                  space  `json:"from"`
	To                    space  `json:"to"`
	SearchUses            space  `json:"search_uses"`
	RollbackWindowSeconds int64  `json:"rollback_window_seconds"`
	Estimate              struct {
		Documents int      `json:"documents"`
		Chunks    int      `json:"chunks"`
		Tokens    int64    `json:"tokens"`
		CostUSD   *float64 `json:"cost_usd"`
	} `json:"estimate"`
	Progress *struct {
		Chunks   int     `json:"chunks"`
		Fraction float64 `json:"fraction"`
	} `json:"progress"`
	CreatedAt *time.Time `json:"created_at"`
	DryRun    bool       `json:"dry_run"`
}

func (e *env) embeddings() *cobra.Command {
	cmd := resource[migration]{
		Name: "embeddings", Short: "move the tenant to another embedding model (needs embeddings:write): ls, show, migrate, cancel, rollback, complete",
		Path:   "/v1/embedding-migrations",
		Header: "ID\tSTATE\tFROM\tTO\tPROGRESS\tCREATED",
		Row: func(m migration) string {
			created := "-"
			if m.CreatedAt != nil {
				created = m.CreatedAt.UTC().Format(time.RFC3339)
			}
			return strings.Join([]string{m.ID, m.State, m.From.String(), m.To.String(), m.progress(), created}, "\t")
		},
		Verbs: []verb{
			show("migration (its estimate, progress and error)"),
			{
				Name: "migrate", Args: "MODEL DIMENSIONS", Method: "POST",
				Short: "start moving the tenant's documents to MODEL at DIMENSIONS (search switches when all are there); --dry-run only estimates",
				Flags: []option{
					{Name: "rollback-window", Usage: "how long after the switch the old index is kept for a rollback, e.g. 72h (the server's default), 0 (none), at most 720h"},
					{Name: "dry-run", Bool: true, Usage: "print what the migration would embed and cost, and start nothing"},
				},
				Query: func(flag func(string) string) url.Values {
					if flag("dry-run") == "true" {
						return url.Values{"dry_run": {"true"}}
					}
					return nil
				},
				Body: migrationBody,
				Done: migrationStarted,
			},
			{Name: "cancel", Args: "ID", Short: "stop a building migration (search never switched)", Method: "POST", Suffix: "/cancel", Done: migrationState},
			{Name: "rollback", Args: "ID", Short: "switch search back to the old model (within the rollback window)", Method: "POST", Suffix: "/rollback", Done: migrationState},
			{Name: "complete", Args: "ID", Short: "remove the old model's index now, ending the rollback window", Method: "POST", Suffix: "/complete", Done: migrationState},
		},
	}.command(e)
	for _, c := range cmd.Commands() {
		if c.Name() == "ls" {
			c.Short = "list the tenant's embedding migrations"
		}
	}
	return cmd
}

// migrationBody reads MODEL DIMENSIONS and --rollback-window.
func migrationBody(args []string, flag func(string) string) (any, error) {
	model := strings.TrimSpace(args[0])
	if model == "" {
		return nil, usageErr("embeddings migrate: MODEL is empty")
	}
	dims, err := strconv.Atoi(args[1])
	if err != nil || dims <= 0 {
		return nil, usageErr("embeddings migrate: DIMENSIONS must be a positive whole number, not %q", args[1])
	}
	body := map[string]any{"model": model, "dimensions": dims}
	if w := flag("rollback-window"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 || d%time.Second != 0 {
			return nil, usageErr("--rollback-window must be a duration in whole seconds, like 72h or 90m, not %q", w)
		}
		body["rollback_window_seconds"] = int64(d / time.Second)
	}
	return body, nil
}

// migrationStarted reports a migration started, or a dry run's estimate.
func migrationStarted(_ string, answer json.RawMessage) (string, error) {
	var m migration
	if err := json.Unmarshal(answer, &m); err != nil {
		return "", err
	}
	window := (time.Duration(m.RollbackWindowSeconds) * time.Second).String()
	first := fmt.Sprintf("migration %s: %s (%s → %s, rollback window %s)", m.ID, m.State, m.From, m.To, window)
	if m.DryRun {
		first = fmt.Sprintf("dry run, nothing started: %s → %s, rollback window %s", m.From, m.To, window)
	}
	return first + "\n" + m.estimate(), nil
}

// migrationState reports a migration's new state: "ID: rolled_back
// (search uses MODEL@DIMENSIONS)".
func migrationState(_ string, answer json.RawMessage) (string, error) {
	var m migration
	err := json.Unmarshal(answer, &m)
	return fmt.Sprintf("%s: %s (search uses %s)", m.ID, m.State, m.SearchUses), err
}

// estimate is the migration's estimate, for people.
func (m migration) estimate() string {
	cost := "unknown price"
	if c := m.Estimate.CostUSD; c != nil {
		cost = usd(*c)
	}
	return fmt.Sprintf("estimate: %s, %s, %s; cost: %s",
		plural(m.Estimate.Documents, "document"), plural(m.Estimate.Chunks, "chunk"), plural(int(m.Estimate.Tokens), "token"), cost)
}

// progress is the ls column: chunks embedded of those estimated, or the
// fraction done when there was nothing to estimate.
func (m migration) progress() string {
	if m.Progress == nil {
		return "-"
	}
	if m.Estimate.Chunks > 0 {
		return fmt.Sprintf("%d/%d chunks", m.Progress.Chunks, m.Estimate.Chunks)
	}
	return fmt.Sprintf("%.0f%%", m.Progress.Fraction*100)
}

// usd prints an amount of dollars: cents, or, below a cent (embedding is
// cheap), three significant digits.
func usd(c float64) string {
	if c == 0 || c >= 0.01 {
		return fmt.Sprintf("%.2f USD", c)
	}
	digits := 2 - int(math.Floor(math.Log10(c)))
	return strconv.FormatFloat(c, 'f', digits, 64) + " USD"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
