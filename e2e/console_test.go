package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// The analyst console in a real Chromium, driven from Go: each browser has
// its own NSS database (in its own HOME) holding one member's client
// certificate and trusting the dev CA, and the AutoSelectCertificateForUrls
// policy hands that certificate to 127.0.0.1 without a prompt. Screenshots
// go to $CHEMLEDGER_ARTIFACTS/console (or a temp dir, logged).

// policyFile is where Chromium on Debian reads managed policies.
const policyFile = "/etc/chromium/policies/managed/chemledger-console-test.json"

// browserTools finds Chromium and the NSS tools, or skips saying what is
// missing. With CHEMLEDGER_BROWSER_REQUIRED set (.ci/run sets it, after
// scripts/test-tools installed them) it fails instead, so CI cannot pass
// without running the browser.
func browserTools(t *testing.T) string {
	t.Helper()
	need := func(what string, err error) {
		msg := fmt.Sprintf("console browser test needs %s (%v): run scripts/test-tools, which installs chromium and libnss3-tools", what, err)
		if os.Getenv("CHEMLEDGER_BROWSER_REQUIRED") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var chromium string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		need("chromium", errors.New("not on PATH"))
	}
	for _, tool := range []string{"certutil", "pk12util", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			need(tool, err)
		}
	}
	want := `{"AutoSelectCertificateForUrls":["{\"pattern\":\"https://127.0.0.1:*\",\"filter\":{}}"]}` + "\n"
	if b, err := os.ReadFile(policyFile); err != nil || string(b) != want {
		if err := os.MkdirAll(filepath.Dir(policyFile), 0o755); err != nil {
			need("the AutoSelectCertificateForUrls policy at "+policyFile, err)
		}
		if err := os.WriteFile(policyFile, []byte(want), 0o644); err != nil {
			need("the AutoSelectCertificateForUrls policy at "+policyFile, err)
		}
	}
	return chromium
}

// browserHome makes a HOME whose NSS database trusts the dev CA and, when
// role is not empty, holds member's client certificate for role.
func browserHome(t *testing.T, dataDir, member, role string) string {
	t.Helper()
	home := t.TempDir()
	db := "sql:" + filepath.Join(home, ".pki", "nssdb")
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700)
	run("certutil", "-N", "-d", db, "--empty-password")
	tlsDir := filepath.Join(dataDir, "tls")
	run("certutil", "-A", "-d", db, "-n", "chemledger-dev-ca", "-t", "C,,", "-i", filepath.Join(tlsDir, "ca.pem"))
	if role != "" {
		p12 := filepath.Join(home, "client.p12")
		run("openssl", "pkcs12", "-export", "-in", filepath.Join(tlsDir, "clients", member, role+".pem"),
			"-inkey", filepath.Join(tlsDir, "clients", member, role+".key"), "-out", p12, "-passout", "pass:", "-name", member+"-"+role)
		run("pk12util", "-i", p12, "-d", db, "-W", "")
	}
	return home
}

// browser starts a headless Chromium with HOME set to home.
func browser(t *testing.T, chromium, home string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.WindowSize(1280, 800), chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.Env("HOME="+home),
	)
	actx, cancelA := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func artifacts(t *testing.T) string {
	dir := os.Getenv("CHEMLEDGER_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots in %s", dir)
	return dir
}

func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitText waits up to 20 s for the element sel to contain want.
func waitText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		var err error
		got, err = chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(function(){const e=document.querySelector(%q);return e?(e.innerText ?? e.textContent):""})()`, sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		if strings.Contains(got, want) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	t.Fatalf("%s never contained %q; it has %q; the page:\n%s", sel, want, got, body)
	return ""
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// hostileShipment is a flagged example notification (a route through a
// free zone) under a new reference whose names and remarks are hostile:
// markup, a right-to-left override, and the longest remarks the API takes.
const hostileRef = "PEN-IN-2026-009999"

func submitHostile(t *testing.T, d *daemon) string {
	t.Helper()
	var base *chemledgerv1.ShipmentEvent
	for _, l := range readExamples(t) {
		if l.event.GetEventId() == "PEN-IN-2026-001377" {
			base = l.event
		}
	}
	if base == nil {
		t.Fatal("example PEN-IN-2026-001377 not found")
	}
	cfg, err := pki.Layout{Dir: filepath.Join(d.dir, "tls")}.Client("IN-NCB", "submitter")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(d.grpcAddr, client.WithTLS(cfg), client.WithLogVerifierKey(logKey(t, d.dir)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	signers := demoSigners(t, d.dir)
	mk := func() *chemledgerv1.ShipmentEvent {
		b, _ := protojson.Marshal(base)
		ev := &chemledgerv1.ShipmentEvent{}
		if err := protojson.Unmarshal(b, ev); err != nil {
			t.Fatal(err)
		}
		ev.EventId, ev.ShipmentRef = hostileRef, hostileRef
		return ev
	}
	const script = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`
	// The API refuses what could never render honestly: a right-to-left
	// override in a name or in remarks, remarks of 10,000 characters (4 KiB
	// is the most it takes).
	for _, bad := range []func(*chemledgerv1.ShipmentEvent){
		func(ev *chemledgerv1.ShipmentEvent) { ev.Exporter.Name = "Deccan \u202eslatot" },
		func(ev *chemledgerv1.ShipmentEvent) { ev.Remarks = "\u202eRLO " + script },
		func(ev *chemledgerv1.ShipmentEvent) { ev.Remarks = strings.Repeat("r", 10_000) },
	} {
		ev := mk()
		bad(ev)
		if _, err := c.Submit(t.Context(), "IN-NCB:hostile-refused", ev, signers["IN-NCB"]); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("hostile event accepted or refused wrongly: %v", err)
		}
	}
	ev := mk()
	ev.Exporter.Name = script + " Deccan"
	ev.Consignee.Name = "</td></tr><tr><td>" + script
	// The longest remarks the API takes, with markup and right-to-left
	// text (which the API allows, unlike overrides) in them.
	remarks := "RLO עברית " + script + " "
	ev.Remarks = remarks + strings.Repeat("long remark ", (4096-len(remarks))/12)
	// As JSON, so the browser decodes the fields from the verified bytes.
	payload, err := envelope.EncodeEventJSON(ev)
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.Sign(envelope.PayloadTypeEventJSON, payload, signers["IN-NCB"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubmitEnvelope(t.Context(), "IN-NCB:hostile", env); err != nil {
		t.Fatalf("submit hostile event: %v", err)
	}
	return script
}

func TestConsoleBrowser(t *testing.T) {
	chromium := browserTools(t)
	out := artifacts(t)
	dir := t.TempDir()
	d := startDaemon(t, dir, "--secure", "--demo", filepath.Join(moduleRoot, "examples"), "--log-level", "error")
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(d.stderr.String(), "curl -s") {
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not finish within 90 s:\n%s", d.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	script := submitHostile(t, d)
	base := "https://" + d.httpAddr + "/console/"

	t.Run("analyst", func(t *testing.T) {
		ctx := browser(t, chromium, browserHome(t, dir, "US-CBP", "analyst"))
		// The queue, most severe first.
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/flags")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#queue tbody", "CRITICAL")
		waitText(t, ctx, "#who", "US-CBP")
		// Counts per filter value fill in after the rows.
		waitText(t, ctx, "#f-country", "MX (")
		if got := eval[string](t, ctx, `document.querySelector('#f-rule option[value="R1"]').textContent`); !strings.HasSuffix(got, "(1)") {
			t.Errorf("the R1 option reads %q, want its count (1)", got)
		}
		shot(t, ctx, out, "1-queue.png")
		// Keyboard: j moves the selection down.
		if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`document.activeElement.blur()`)(ctx, t)
			return err
		}), chromedp.KeyEvent("j")); err != nil {
			t.Fatal(err)
		}
		if i := eval[int](t, ctx, `Array.from(document.querySelectorAll("#queue tbody tr")).findIndex(r => r.classList.contains("sel"))`); i != 1 {
			t.Errorf("after j the selected row is %d, want 1", i)
		}
		// Filter to critical: the URL holds the filter, every row is critical.
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#f-severity"), "CRITICAL"), chromedp.Click(chromedp.CSS("#apply"))); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#total", "severity = CRITICAL")
		if h := eval[string](t, ctx, `location.hash`); !strings.Contains(h, "severity=CRITICAL") {
			t.Errorf("the URL does not hold the filter: %q", h)
		}
		sevs := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#queue tbody tr td:first-child")).map(td => td.innerText)`)
		if len(sevs) < 2 {
			t.Fatalf("filtered queue has %d rows: %q", len(sevs), sevs)
		}
		for _, s := range sevs {
			if s != "CRITICAL" {
				t.Errorf("filtered to CRITICAL, a row is %q", s)
			}
		}
		shot(t, ctx, out, "2-queue-critical.png")

		// A flag, its evidence checked in this browser.
		const flag = "R1-45bedf607194"
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href="#/flag/`+flag+`"]`))); err != nil {
			t.Fatal(err)
		}
		v := waitText(t, ctx, "#verdict", "verified in this browser")
		if strings.Contains(v, "not verified") {
			t.Fatalf("verdict: %s", v)
		}
		waitText(t, ctx, "#explanation", "69.3 kg short")
		shot(t, ctx, out, "3-flag.png")
		// A log key other than the one this browser kept is not trusted:
		// the page says why it could not verify.
		kept := eval[string](t, ctx, `localStorage.getItem("chemledger.verifierKey")`)
		if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`localStorage.setItem("chemledger.verifierKey", "chemledger.dev/log+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")`)(ctx, tg)
			return err
		}), chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#verdict", "Not verified in this browser: the service now gives the log key")
		shot(t, ctx, out, "3b-flag-other-key.png")
		if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](fmt.Sprintf(`localStorage.setItem("chemledger.verifierKey", %q)`, kept))(ctx, tg)
			return err
		}), chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#verdict", "(log key kept by this browser)")
		// Printed, the flag is a one-page case summary.
		pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF())
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(out, "3-flag.pdf"), pdf, 0o644)
		if n := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAllIndex(pdf, -1)); n != 1 {
			t.Errorf("the flag prints on %d pages, want a one-page case summary", n)
		}

		// A disposition, signed in this browser with the member key file.
		if err := chromedp.Do(ctx,
			chromedp.SetUploadFiles(chromedp.CSS("#keyfile"), []string{filepath.Join(dir, "keys", "US-CBP.json")})); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#key-state", "loaded in this page")
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#decision"), "escalated"),
			chromedp.SendKeys(chromedp.CSS("#note"), "69.3 kg unaccounted for; ask MX-ANAM"),
			chromedp.Click(chromedp.CSS("#sign"))); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#disp-msg", "the flag is now escalated")
		waitText(t, ctx, "#status", "escalated")
		waitText(t, ctx, "#history", "ask MX-ANAM")
		shot(t, ctx, out, "4-disposition.png")
		// The server agrees.
		cli := d.runCLI(t, "flags", "show", flag)
		if !strings.Contains(cli.stdout, "ESCALATED") && !strings.Contains(strings.ToLower(cli.stdout), "escalated") {
			t.Errorf("after the browser's disposition the CLI shows:\n%s%s", cli.stdout, cli.stderr)
		}

		// A shipment: its legs and its route drawn as a map.
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/shipment/PEN-CN-2026-000871")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#legs", "receipt confirmation")
		waitText(t, ctx, "#recon", "-69.3 kg")
		if n := eval[int](t, ctx, `document.querySelectorAll("#legs li").length`); n < 7 {
			t.Errorf("shipment shows %d legs, want at least 7", n)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("#map circle").length`); n != 3 {
			t.Errorf("the map has %d places, want 3 (CNSHA, PAONX, MXVER)", n)
		}
		shot(t, ctx, out, "5-shipment.png")

		for _, p := range []struct{ hash, sel, want, file string }{
			{"#/rules", "#rules", "R1", "6-rules.png"},
			{"#/stats", "#chart-rule", "R13", "7-stats.png"},
			{"#/registry", "#watchlists", "Naviera Cristalina", "8-registry.png"},
		} {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+p.hash)); err != nil {
				t.Fatal(err)
			}
			waitText(t, ctx, p.sel, p.want)
			shot(t, ctx, out, p.file)
		}
		// 1280×800 at 200 % zoom is a 640×400 CSS-pixel viewport: the pages
		// reflow, and only a wide table scrolls, inside its own region.
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(640, 400, chromedp.EmulateScale(2))); err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct{ hash, sel, want, file string }{
			{"#/flags", "#queue", "CRITICAL", "14-queue-200pct.png"},
			{"#/flag/" + flag, "#verdict", "verified in this browser", "15-flag-200pct.png"},
			{"#/shipment/PEN-CN-2026-000871", "#legs", "receipt confirmation", "16-shipment-200pct.png"},
		} {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+p.hash)); err != nil {
				t.Fatal(err)
			}
			waitText(t, ctx, p.sel, p.want)
			if over := eval[bool](t, ctx, `document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`); over {
				t.Errorf("%s at 200 %% zoom is wider than the window", p.hash)
			}
			shot(t, ctx, out, p.file)
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
			t.Fatal(err)
		}
		// The audit trail is the auditors': an analyst is told so.
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/audit")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#view", "may not see this")
	})

	t.Run("hostile", func(t *testing.T) {
		ctx := browser(t, chromium, browserHome(t, dir, "US-CBP", "analyst"))
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/shipment/"+hostileRef)); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#legs", "</td></tr><tr><td><script>")
		var flagID string
		deadline := time.Now().Add(20 * time.Second)
		for flagID == "" && time.Now().Before(deadline) {
			flagID = eval[string](t, ctx, `(function(){const a=document.querySelector('a[href^="#/flag/R13"]');return a?decodeURIComponent(a.getAttribute("href").slice(7)):""})()`)
			if flagID == "" {
				time.Sleep(200 * time.Millisecond)
				chromedp.Do(ctx, chromedp.Reload())
			}
		}
		if flagID == "" {
			t.Fatal("the hostile shipment has no R13 flag")
		}
		shot(t, ctx, out, "9-hostile-shipment.png")
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/flag/"+flagID)); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#verdict", "verified in this browser")
		text := waitText(t, ctx, ".evidence", script)
		if !strings.Contains(text, "RLO") {
			t.Errorf("the remarks are not shown: %q", text)
		}
		if p := eval[any](t, ctx, `window.__pwned === undefined ? null : window.__pwned`); p != nil {
			t.Errorf("a hostile name ran script: window.__pwned = %v", p)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("main script, main img").length`); n != 0 {
			t.Errorf("hostile markup became %d elements", n)
		}
		if over := eval[bool](t, ctx, `document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`); over {
			t.Error("4 KB of remarks push the page wider than the window")
		}
		shot(t, ctx, out, "10-hostile-flag.png")
		// The queue lists it, as text.
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/flags?rule=R13&order=newest")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#queue", hostileRef)
	})

	t.Run("auditor", func(t *testing.T) {
		ctx := browser(t, chromium, browserHome(t, dir, "US-CBP", "auditor"))
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/audit")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#chain", "chain checked in this browser")
		if txt := eval[string](t, ctx, `document.querySelector("main").innerText`); strings.Contains(txt, "null") || strings.Contains(txt, "undefined") {
			t.Errorf("the audit page shows a null or undefined:\n%.500s", txt)
		}
		waitText(t, ctx, "#audit", "GetFlag")
		// Again: the record kept on the first visit is checked too.
		if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#chain", "is the one this browser kept")
		shot(t, ctx, out, "11-audit.png")
		// An entry: hashes, not contents.
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/entry/14")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#view", "Hashes only")
		body := eval[string](t, ctx, `document.querySelector("main").innerText`)
		for _, secret := range []string{"Wuhan", "KGM", "Química", "4-AP"} {
			if strings.Contains(body, secret) {
				t.Errorf("the auditor's entry page shows %q:\n%s", secret, body)
			}
		}
		shot(t, ctx, out, "12-auditor-entry.png")
		// The flag queue is the analysts'.
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/flags")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#view", "may not see this")
	})

	t.Run("no certificate", func(t *testing.T) {
		ctx := browser(t, chromium, browserHome(t, dir, "", ""))
		err := chromedp.Do(ctx, chromedp.Navigate(base))
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		if err == nil && strings.Contains(text, "Flag queue") {
			t.Fatalf("a browser without a certificate got the console:\n%s", text)
		}
		// The TLS handshake itself fails: the listener requires a client
		// certificate, so no page, script or API answer reaches this browser.
		if err == nil || !strings.Contains(err.Error(), "ERR_") {
			t.Errorf("navigation without a certificate: %v, want a TLS error; page %q", err, text)
		}
		t.Logf("without a certificate: %v", err)
		if b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
			os.WriteFile(filepath.Join(out, "13-no-certificate.png"), b, 0o644)
		}
	})

	// Every view was audited: the console's page loads are in the trail.
	t.Run("audited", func(t *testing.T) {
		hc := httpsAs(t, dir, "US-CBP", "auditor")
		for start := 0; ; start += 1000 {
			resp, err := hc.Get(fmt.Sprintf("https://%s/v1/audit-records?start_seq=%d&page_size=1000", d.httpAddr, start))
			if err != nil {
				t.Fatal(err)
			}
			var page struct {
				Records []struct{ Principal, Method string }
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil || len(page.Records) == 0 {
				t.Fatalf("no console page view in the audit trail (%v)", err)
			}
			for _, r := range page.Records {
				if r.Method == "GET /console/" && strings.HasPrefix(r.Principal, "US-CBP") {
					return
				}
			}
		}
	})
}

// A page on another site cannot post a disposition as the analyst whose
// browser holds the certificate: the listener refuses cross-origin writes.
func TestConsoleCrossOriginRefused(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, "--secure")
	hc := httpsAs(t, dir, "US-CBP", "analyst")
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"cross-site form", map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}, http.StatusForbidden},
		{"foreign origin", map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, http.StatusForbidden},
		{"same origin reaches the API", map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", "https://"+d.httpAddr+"/v1/flags/R1-x:disposition", strings.NewReader(`{"submissionId":"x","envelope":"e30="}`))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d; body %v", resp.StatusCode, tc.want, body)
			}
		})
	}
	// The page itself: strict CSP, no inline script.
	resp, err := hc.Get("https://" + d.httpAddr + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// httpsAs is an HTTPS client with member's development certificate for role.
func httpsAs(t *testing.T, dir, member, role string) *http.Client {
	t.Helper()
	cfg, err := pki.Layout{Dir: filepath.Join(dir, "tls")}.Client(member, role)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}
