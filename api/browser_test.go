package api_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ragd/ragd/api/apitest"
)

// TestJobDashboardInBrowser opens the job dashboard in headless Chromium:
// with the admin token it loads and lists the ingest_document job of an
// upload; without it, the server refuses. make test installs chromium.
func TestJobDashboardInBrowser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")
	id := b.Upload(key, "", "a.txt", []byte("a document whose job the dashboard shows")).JSON(t)["id"].(string)
	b.WaitDocument(key, id)

	browser := apitest.Chromium(t)
	page := func(auth string) (string, error) {
		ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext()) // no credentials shared
		defer cancel()
		// Every request of the tab, the page's own fetches included, carries
		// the credentials.
		setAuth := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			if auth == "" {
				return chromedp.Void{}, nil
			}
			if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
				return chromedp.Void{}, err
			}
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
			return chromedp.Void{}, err
		}
		if err := chromedp.Do(ctx, setAuth); err != nil {
			return "", err
		}
		tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
		defer tcancel()
		steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(b.url + "/jobs/jobs?state=completed")}
		if auth != "" {
			steps = append(steps, chromedp.WaitVisible(chromedp.Search(`//*[contains(text(), "ingest_document")]`)))
		}
		if err := chromedp.Do(tctx, steps...); err != nil {
			return "", err
		}
		return chromedp.Run(tctx, chromedp.Text(chromedp.CSS("body")))
	}

	body, err := page("Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminToken)))
	if err != nil {
		t.Fatalf("the dashboard did not show the ingest_document job: %v", err)
	}
	if !strings.Contains(body, "ingest_document") {
		t.Fatalf("dashboard text: %.500s", body)
	}
	// Without the token, Chromium gets the 401 and its Basic challenge:
	// headless, it has nobody to ask and fails the load.
	body, err = page("")
	switch {
	case err != nil && strings.Contains(err.Error(), "ERR_INVALID_AUTH_CREDENTIALS"):
	case err == nil && strings.Contains(body, "admin token is required") && !strings.Contains(body, "ingest_document"):
	default:
		t.Fatalf("without the token: %v, page %.300s", err, body)
	}
}
