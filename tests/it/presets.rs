//! Presets, config.toml and provider quirks, black-box: `tokcli providers --json`, config errors,
//! the precedence of login settings, the discovery cache, and each preset quirk against the fake
//! authorization server, reached through a `[providers.NAME]` entry that inherits the preset and
//! points its endpoints at the mock.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::mockas::{CLIENT_ID, MockAs, Reply, browser_script};
use crate::support::{Home, Run};

fn write_config(home: &Home, text: &str) {
    std::fs::write(home.path().join("config.toml"), text).expect("write config.toml");
}

fn json_out(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", r.stdout))
}

fn extra(home: &Home, profile: &str) -> Value {
    let s: String = home
        .sql()
        .query_row("SELECT extra FROM profiles WHERE name = ?1", [profile], |r| r.get(0))
        .expect("profile row");
    serde_json::from_str(&s).expect("extra is JSON")
}

fn list_entry(home: &Home, profile: &str) -> Value {
    let v = json_out(home.run(&["list", "--json"]).ok());
    v.as_array().and_then(|a| a.iter().find(|p| p["profile"] == profile).cloned()).expect("profile in list")
}

#[test]
fn providers_json_lists_every_preset_with_its_endpoints() {
    let home = Home::new();
    let r = home.run(&["providers", "--json"]);
    r.ok();
    let v = json_out(&r);
    let rows = v.as_array().expect("array");
    let by_name = |n: &str| rows.iter().find(|p| p["name"] == n).unwrap_or_else(|| panic!("{n} missing"));
    let want = [
        ("google", Some("https://accounts.google.com/o/oauth2/v2/auth"), "https://oauth2.googleapis.com/token"),
        ("github", Some("https://github.com/login/oauth/authorize"), "https://github.com/login/oauth/access_token"),
        (
            "microsoft",
            Some("https://login.microsoftonline.com/common/oauth2/v2.0/authorize"),
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        ),
        ("gitlab", Some("https://gitlab.com/oauth/authorize"), "https://gitlab.com/oauth/token"),
        ("alarmbox", Some("https://api.alarmbox.jp/oauth/authorize"), "https://api.alarmbox.jp/oauth/token"),
        ("x", Some("https://x.com/i/oauth2/authorize"), "https://api.x.com/2/oauth2/token"),
        ("slack", Some("https://slack.com/oauth/v2/authorize"), "https://slack.com/api/oauth.v2.access"),
        ("notion", Some("https://api.notion.com/v1/oauth/authorize"), "https://api.notion.com/v1/oauth/token"),
        ("azure", None, "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
    ];
    assert_eq!(rows.len(), want.len(), "only the presets without a config file");
    for (name, auth, token) in want {
        let p = by_name(name);
        assert_eq!(p["source"], "preset", "{name}");
        assert_eq!(p["token_endpoint"], token, "{name}");
        assert_eq!(p["authorization_endpoint"].as_str(), auth, "{name}");
        assert!(p["revocation_endpoint"].is_string() || p["revocation_note"].is_string(), "{name}: revocation");
    }
    let alarmbox = by_name("alarmbox");
    assert_eq!(alarmbox["redirect_uri"], "urn:ietf:wg:oauth:2.0:oob");
    assert_eq!(alarmbox["default_flow"], "manual");
    assert_eq!(
        json!(["read", "customer:delete", "customer:create", "credit_check:create"]),
        alarmbox["default_scopes"]
    );
    assert_eq!(by_name("google")["auth_params"], json!({ "access_type": "offline", "prompt": "consent" }));
    assert_eq!(by_name("microsoft")["params"], json!({ "tenant": "common" }));
    assert_eq!(by_name("microsoft")["offline_scope"], "offline_access");
    assert_eq!(by_name("azure")["params"], json!({ "tenant": null }), "required, no default");
    assert_eq!(by_name("azure")["default_flow"], "client_credentials");
    assert_eq!(by_name("github")["device_authorization_endpoint"], "https://github.com/login/device/code");
    assert_eq!(by_name("x")["offline_scope"], "offline.access");
    assert_eq!(by_name("x")["ports"], json!([8080]));
    assert_eq!(by_name("notion")["client_auth"], "client_secret_basic_json");
    assert_eq!(by_name("slack")["quirks"]["user_token_in_authed_user"], true);
    assert_eq!(by_name("gitlab")["revocation_endpoint"], "https://gitlab.com/oauth/revoke");

    let table = home.run(&["providers"]);
    table.ok();
    assert!(table.stdout.starts_with("NAME"), "{}", table.stdout);
    assert_eq!(table.stdout.lines().count(), 10);
}

#[test]
fn providers_json_shows_config_entries_built_on_presets() {
    let home = Home::new();
    write_config(
        &home,
        r#"
[providers.ghe]
preset = "github"
params = { base_url = "https://github.example.com" }

[providers.alarmbox]
revocation_endpoint = "https://api.alarmbox.jp/oauth/revoke"

[providers.corp]
issuer = "https://login.corp.example"
client_id = "corp-cli"
"#,
    );
    let v = json_out(home.run(&["providers", "--json"]).ok());
    let rows = v.as_array().expect("array");
    let by_name = |n: &str| rows.iter().find(|p| p["name"] == n).unwrap_or_else(|| panic!("{n} missing"));
    assert_eq!(rows.len(), 11);
    let ghe = by_name("ghe");
    assert_eq!((&ghe["source"], &ghe["preset"]), (&json!("config"), &json!("github")));
    assert_eq!(ghe["token_endpoint"], "https://github.example.com/login/oauth/access_token");
    assert_eq!(ghe["quirks"]["lifetime_when_absent"], 31_536_000, "quirks come from the preset");
    let ab = by_name("alarmbox");
    assert_eq!((&ab["source"], &ab["preset"]), (&json!("config"), &json!("alarmbox")));
    assert_eq!(ab["revocation_endpoint"], "https://api.alarmbox.jp/oauth/revoke");
    assert_eq!(ab["token_endpoint"], "https://api.alarmbox.jp/oauth/token");
    let corp = by_name("corp");
    assert_eq!(corp["issuer"], "https://login.corp.example");
    assert_eq!(corp["token_endpoint"], Value::Null, "discovered at login, not by `providers`");
    assert_eq!(corp["client_id"], "corp-cli");
}

#[test]
fn broken_config_is_exit_2_with_file_and_line() {
    let cases = [
        ("[providers.a]\npreset = \"github\"\ntokn_endpoint = \"https://x\"\n", 3, "tokn_endpoint"),
        ("[providers.a]\npreset = \"gitbub\"\n", 2, "gitbub"),
        ("\n\n[providers.a]\ntoken_endpoint = \"http://evil.example/token\"\n", 4, "plain-http"),
        ("[profiles.work]\nprovider = \"nowhere\"\n", 2, "nowhere"),
        ("[profiles.work]\nprovider = \"github\"\nmin_valid = \"soon\"\n", 3, "soon"),
        ("[providers.a\n", 1, "config.toml"),
    ];
    for (text, line, what) in cases {
        let home = Home::new();
        write_config(&home, text);
        let path = home.path().join("config.toml");
        for args in [&["providers"][..], &["login", "github", "--client-id", "c"][..]] {
            let r = home.run(args);
            r.code(2);
            let want = format!("{}:{line}:", path.display());
            assert!(r.stderr.contains(&want), "{args:?}: {want} not in {}", r.stderr);
            assert!(r.stderr.contains(what), "{args:?}: {what} not in {}", r.stderr);
            assert!(r.stdout.is_empty());
        }
        // The hot path never reads config.toml: a broken file does not change `token`.
        home.run(&["token", "nobody"]).code(3);
    }
}

#[test]
fn github_form_encoded_and_json_responses() {
    let m = MockAs::start();
    m.set_device_interval(Some(1));
    let home = Home::new();
    write_config(
        &home,
        &format!(
            "[providers.gh-test]\npreset = \"github\"\ntoken_endpoint = \"{}\"\ndevice_authorization_endpoint = \"{}\"\n",
            m.url("/gh/token"),
            m.url("/device_authorization")
        ),
    );
    // Device flow (the preset's default; no secret needed), polling errors with HTTP 200, then a
    // form-encoded success because `Accept` was "ignored".
    m.script(
        "/gh/token",
        vec![
            Reply::Json(200, json!({ "error": "authorization_pending" })),
            Reply::Raw {
                status: 200,
                content_type: "application/x-www-form-urlencoded; charset=utf-8".into(),
                body: b"access_token=gho_formtoken&scope=repo%2Cgist&token_type=bearer".to_vec(),
                headers: Vec::new(),
            },
        ],
    );
    let r = home.run(&["login", "gh-test", "--client-id", CLIENT_ID, "--profile", "gh-form", "--timeout", "30s"]);
    r.ok();
    assert_eq!(m.count("/gh/token"), 2);
    let req = &m.requests("/gh/token")[0];
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.grant_type(), Some("device_code"));
    assert_eq!(home.run(&["token", "gh-form"]).ok().line(), "gho_formtoken");
    let p = list_entry(&home, "gh-form");
    assert_eq!(p["scopes"], "repo,gist");
    assert!(p["expires_in"].as_i64().unwrap() > 300 * 86_400, "OAuth-app tokens do not expire: {p}");
    assert_eq!(extra(&home, "gh-form")["preset"], "github");

    // The same with the JSON GitHub sends when it honours `Accept`.
    m.script(
        "/gh/token",
        vec![Reply::Json(200, json!({ "access_token": "gho_json", "token_type": "bearer", "scope": "repo" }))],
    );
    let r = home.run(&["login", "gh-test", "--client-id", CLIENT_ID, "--profile", "gh-json", "--timeout", "30s"]);
    r.ok();
    assert_eq!(home.run(&["token", "gh-json"]).ok().line(), "gho_json");

    // A dead device code (GitHub's `incorrect_device_code`, HTTP 200) ends the login.
    m.script("/gh/token", vec![Reply::Json(200, json!({ "error": "incorrect_device_code" }))]);
    let r = home.run(&["login", "gh-test", "--client-id", CLIENT_ID, "--profile", "gh-dead", "--timeout", "30s"]);
    r.code(7);
}

#[test]
fn microsoft_string_expires_in_and_tenant_parameter() {
    let m = MockAs::start();
    let home = Home::new();
    write_config(
        &home,
        &format!(
            "[providers.ms-test]\npreset = \"microsoft\"\ntoken_endpoint = \"{}\"\n",
            m.url("/{tenant}/oauth2/v2.0/token")
        ),
    );
    m.set_default(
        "/contoso/oauth2/v2.0/token",
        Reply::Json(
            200,
            json!({ "access_token": "ms-at", "token_type": "Bearer", "expires_in": "3599", "refresh_token": "ms-rt2" }),
        ),
    );
    let r = home.run_stdin(
        &["login", "ms-test", "--client-id", CLIENT_ID, "--param", "tenant=contoso", "--refresh-token-stdin"],
        "ms-rt1\n",
        |_| {},
    );
    r.ok();
    assert_eq!(m.count("/contoso/oauth2/v2.0/token"), 1, "the tenant filled the template");
    let req = &m.requests("/contoso/oauth2/v2.0/token")[0];
    assert_eq!(req.form_get("client_id"), Some(CLIENT_ID), "a public client: no secret");
    assert!(req.header("authorization").is_none());
    let e = list_entry(&home, "ms-test")["expires_in"].as_i64().unwrap();
    assert!((3500..=3599).contains(&e), "string expires_in honoured: {e}");

    // A tenant that would change the URL's shape is refused before any request.
    let r = home.run_stdin(
        &["login", "ms-test", "--client-id", CLIENT_ID, "--param", "tenant=../x", "--refresh-token-stdin"],
        "ms-rt1\n",
        |_| {},
    );
    r.code(2);
    assert!(r.stderr.contains("tenant"), "{}", r.stderr);

    // The real preset sends users to http://localhost/callback (Microsoft's documented host).
    let r = home.run(&["login", "microsoft", "--client-id", CLIENT_ID, "--manual"]);
    r.code(2);
    assert!(r.stderr.contains("redirect_uri=http%3A%2F%2Flocalhost%2Fcallback"), "{}", r.stderr);
    assert!(r.stderr.contains("scope=openid+profile+offline_access"), "{}", r.stderr);
    assert!(r.stderr.contains("login.microsoftonline.com/common/oauth2/v2.0/authorize"), "{}", r.stderr);
}

#[test]
fn notion_json_body_and_basic_auth() {
    let m = MockAs::start();
    let home = Home::new();
    write_config(
        &home,
        &format!("[providers.n-test]\npreset = \"notion\"\ntoken_endpoint = \"{}\"\n", m.url("/v1/oauth/token")),
    );
    m.set_default(
        "/v1/oauth/token",
        Reply::Json(
            200,
            json!({ "access_token": "ntn_at", "token_type": "bearer", "refresh_token": "ntn_rt2", "bot_id": "b",
                    "workspace_id": "w", "owner": { "type": "user" } }),
        ),
    );
    // Notion needs the secret: without one, login stops before any request.
    let r = home.run(&["login", "n-test", "--client-id", "nid", "--refresh-token-stdin"]);
    r.code(2);
    assert!(r.stderr.contains("client secret"), "{}", r.stderr);
    assert_eq!(m.count("/v1/oauth/token"), 0);

    let r = home.run_stdin(
        &["login", "n-test", "--client-id", "nid", "--client-secret-stdin", "--refresh-token-stdin"],
        "s3cret:x\nntn_rt1\n",
        |_| {},
    );
    r.ok();
    let check = |req: &crate::mockas::Recorded, rt: &str| {
        assert_eq!(req.header("content-type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&req.body).expect("a JSON body");
        assert_eq!(body, json!({ "grant_type": "refresh_token", "refresh_token": rt }));
        let basic = req.header("authorization").expect("Basic auth").strip_prefix("Basic ").expect("Basic");
        let decoded = base64::engine::general_purpose::STANDARD.decode(basic).expect("base64");
        assert_eq!(String::from_utf8(decoded).unwrap(), "nid:s3cret%3Ax", "RFC 6749 §2.3.1 form-encoding");
    };
    check(&m.requests("/v1/oauth/token")[0], "ntn_rt1");
    assert!(list_entry(&home, "n-test")["expires_in"].as_i64().unwrap() > 300 * 86_400, "no expires_in");
    // The refresh path rebuilds the client from the stored profile: still JSON and Basic.
    assert_eq!(home.run(&["token", "n-test", "--force-refresh"]).ok().line(), "ntn_at");
    check(&m.requests("/v1/oauth/token")[1], "ntn_rt2");
}

#[test]
fn slack_nested_user_token_and_comma_scopes() {
    let m = MockAs::start();
    let home = Home::new();
    // An out-of-band redirect lets the test paste a code; quirks come from the slack preset.
    write_config(
        &home,
        &format!(
            "[providers.s-test]\npreset = \"slack\"\nauthorization_endpoint = \"{}\"\ntoken_endpoint = \"{}\"\n\
redirect_uri = \"urn:ietf:wg:oauth:2.0:oob\"\n",
            m.url("/oauth/v2/authorize"),
            m.url("/api/oauth.v2.access")
        ),
    );
    m.script(
        "/api/oauth.v2.access",
        vec![Reply::Json(
            200,
            json!({
                "ok": true, "access_token": "xoxb-bot", "token_type": "bot", "scope": "commands",
                "bot_user_id": "B1", "team": { "id": "T1" },
                "authed_user": { "id": "U1", "scope": "search:read,users:read", "access_token": "xoxp-user",
                                 "token_type": "user", "refresh_token": "xoxe-1-user", "expires_in": 43200 }
            }),
        )],
    );
    let r = home.run_stdin(
        &["login", "s-test", "--client-id", "sid", "--scope", "search:read", "--scope", "users:read"],
        "slack-code-1\n",
        |_| {},
    );
    r.ok();
    assert!(r.stderr.contains("switching to --manual"), "{}", r.stderr);
    assert!(r.stderr.contains("user_scope=search%3Aread%2Cusers%3Aread"), "comma-joined user scopes: {}", r.stderr);
    assert_eq!(home.run(&["token", "s-test"]).ok().line(), "xoxp-user", "the user token, not the bot token");
    let p = list_entry(&home, "s-test");
    assert!((43_000..=43_200).contains(&p["expires_in"].as_i64().unwrap()));
    assert_eq!(p["has_refresh_token"], true);
    let req = &m.requests("/api/oauth.v2.access")[0];
    assert_eq!(req.form_get("code"), Some("slack-code-1"));
    assert_eq!(req.form_get("client_id"), Some("sid"));

    // Slack errors arrive with HTTP 200 and `ok: false`; a dead code ends the login.
    m.script("/api/oauth.v2.access", vec![Reply::Json(200, json!({ "ok": false, "error": "invalid_code" }))]);
    let r = home.run_stdin(&["login", "s-test", "--client-id", "sid", "--profile", "s2"], "old-code\n", |_| {});
    r.code(7);
    assert!(r.stderr.contains("invalid_code"), "{}", r.stderr);
}

#[test]
fn alarmbox_out_of_band_bare_code_on_stdin() {
    let m = MockAs::start();
    let home = Home::new();
    // An entry named like the preset builds on it: only the endpoints move.
    write_config(
        &home,
        &format!(
            "[providers.alarmbox]\nauthorization_endpoint = \"{}\"\ntoken_endpoint = \"{}\"\n",
            m.url("/oauth/authorize"),
            m.url("/oauth/token")
        ),
    );
    let reply = |at: &str, rt: &str| {
        Reply::Json(
            200,
            json!({ "access_token": at, "token_type": "Bearer", "expires_in": 86400, "refresh_token": rt,
                    "scope": "read customer:delete customer:create credit_check:create", "created_at": 1_700_000_000,
                    "redirect_uri": "urn:ietf:wg:oauth:2.0:oob" }),
        )
    };
    m.script("/oauth/token", vec![reply("ab-at1", "ab-rt1"), reply("ab-at2", "ab-rt2"), reply("ab-at3", "ab-rt3")]);
    let secret_env = |c: &mut std::process::Command| {
        c.env("TOKCLI_CLIENT_SECRET", "ab-secret");
    };
    // No --manual: the out-of-band preset uses the manual flow by itself.
    let r =
        home.run_stdin(&["login", "alarmbox", "--client-id", "ab-id", "--profile", "work"], "AbCode123\n", secret_env);
    r.ok();
    assert!(r.stderr.contains("alarmbox then shows a code"), "{}", r.stderr);
    assert!(r.stderr.contains("no state"), "the bare-code note: {}", r.stderr);
    assert!(r.stderr.contains("redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob"), "{}", r.stderr);
    assert!(r.stderr.contains("scope=read+customer%3Adelete+customer%3Acreate+credit_check%3Acreate"), "{}", r.stderr);
    let req = &m.requests("/oauth/token")[0];
    assert_eq!(req.grant_type(), Some("authorization_code"));
    assert_eq!(req.form_get("code"), Some("AbCode123"));
    assert_eq!(req.form_get("redirect_uri"), Some("urn:ietf:wg:oauth:2.0:oob"));
    assert_eq!(req.form_get("client_id"), Some("ab-id"));
    assert_eq!(req.form_get("client_secret"), Some("ab-secret"), "client_secret_post");
    assert!(req.header("authorization").is_none());
    assert_eq!(home.run(&["token", "work"]).ok().line(), "ab-at1");

    // With --manual explicitly, as a second profile of the same provider.
    let r = home.run_stdin(
        &["login", "alarmbox", "--manual", "--client-id", "ab-id", "--profile", "personal"],
        "  AbCode456  \n",
        secret_env,
    );
    r.ok();
    assert_eq!(m.requests("/oauth/token")[1].form_get("code"), Some("AbCode456"));
    assert_eq!(home.run(&["token", "personal"]).ok().line(), "ab-at2");
    assert_eq!(home.run(&["token", "work"]).ok().line(), "ab-at1", "profiles are independent");

    // A refresh repeats the out-of-band redirect_uri (the reported AlarmBox client does) and
    // keeps the rotated refresh token.
    assert_eq!(home.run(&["token", "work", "--force-refresh"]).ok().line(), "ab-at3");
    let refresh = &m.requests("/oauth/token")[2];
    assert_eq!(refresh.grant_type(), Some("refresh_token"));
    assert_eq!(refresh.form_get("refresh_token"), Some("ab-rt1"));
    assert_eq!(refresh.form_get("redirect_uri"), Some("urn:ietf:wg:oauth:2.0:oob"));

    // A secret is required: nothing is sent without one.
    let before = m.count("/oauth/token");
    let r = home.run(&["login", "alarmbox", "--client-id", "ab-id", "--profile", "x"]);
    r.code(2);
    assert!(r.stderr.contains("--client-secret-stdin"), "{}", r.stderr);
    // A pasted redirect URL with someone else's state is refused.
    let r = home.run_stdin(
        &["login", "alarmbox", "--client-id", "ab-id", "--profile", "y"],
        "https://api.alarmbox.jp/oauth/authorize/native?code=c&state=forged\n",
        secret_env,
    );
    r.code(7);
    assert_eq!(m.count("/oauth/token"), before);
}

#[test]
fn google_preset_parameters_and_browser_flow() {
    let home = Home::new();
    // The issue's example: the preset's offline parameters ride along with a user scope.
    let r = home.run(&[
        "login",
        "google",
        "--manual",
        "--client-id",
        "gid.apps.googleusercontent.com",
        "--scope",
        "https://www.googleapis.com/auth/youtube",
    ]);
    r.code(2);
    for want in [
        "https://accounts.google.com/o/oauth2/v2/auth?",
        "access_type=offline",
        "prompt=consent",
        "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fyoutube&",
        "code_challenge_method=S256",
        "redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback",
        "usually needs the client secret",
    ] {
        assert!(r.stderr.contains(want), "{want} not in {}", r.stderr);
    }

    // The whole browser flow, with the preset's endpoints pointed at the mock.
    let m = MockAs::start();
    write_config(
        &home,
        &format!(
            "[providers.google]\nauthorization_endpoint = \"{}\"\ntoken_endpoint = \"{}\"\n",
            m.url("/authorize"),
            m.url("/token")
        ),
    );
    let r =
        home.run_with(&["login", "google", "--client-id", CLIENT_ID, "--param", "prompt=", "--timeout", "30s"], |c| {
            c.env("BROWSER", browser_script()).env("TOKCLI_CLIENT_SECRET", "not-so-secret");
        });
    r.ok();
    let authz = &m.requests("/authorize")[0];
    assert_eq!(authz.query_get("access_type"), Some("offline"));
    assert_eq!(authz.query_get("prompt"), None, "an empty --param drops the preset's value");
    assert_eq!(authz.query_get("scope"), Some("openid email"));
    let tok = &m.requests("/token")[0];
    assert_eq!(tok.form_get("client_secret"), Some("not-so-secret"), "Google: client_secret_post");
    assert!(home.run(&["token", "google"]).ok().line().starts_with("at"));
}

#[test]
fn azure_client_credentials_with_tenant() {
    let home = Home::new();
    let r = home.run_with(&["login", "azure", "--client-id", "app"], |c| {
        c.env("TOKCLI_CLIENT_SECRET", "s");
    });
    r.code(2);
    assert!(r.stderr.contains("{tenant}") && r.stderr.contains("--param tenant="), "{}", r.stderr);

    let m = MockAs::start();
    write_config(&home, &format!("[providers.azure]\ntoken_endpoint = \"{}\"\n", m.url("/{tenant}/oauth2/v2.0/token")));
    m.set_default(
        "/t-123/oauth2/v2.0/token",
        Reply::Json(200, json!({ "access_token": "az-at", "token_type": "Bearer", "expires_in": 3599 })),
    );
    // The preset's default flow is client credentials: no flag needed.
    let r =
        home.run_with(&["login", "azure", "--client-id", "app", "--param", "tenant=t-123", "--profile", "sub1"], |c| {
            c.env("TOKCLI_CLIENT_SECRET", "az-secret");
        });
    r.ok();
    let req = &m.requests("/t-123/oauth2/v2.0/token")[0];
    assert_eq!(req.grant_type(), Some("client_credentials"));
    assert_eq!(req.form_get("scope"), Some("https://management.azure.com/.default"));
    assert_eq!(req.form_get("client_secret"), Some("az-secret"));
    assert_eq!(home.run(&["token", "sub1"]).ok().line(), "az-at");
}

/// The precedence of login settings (CLI > env > config file > preset), end to end.
#[test]
fn precedence_of_client_id_scopes_params_and_min_valid() {
    let m = MockAs::start();
    let home = Home::new();
    write_config(
        &home,
        &format!(
            r#"
[providers.cc]
token_endpoint = "{}"
flow = "client_credentials"
client_auth = "client_secret_post"
client_id = "provider-id"
scopes = "provider-scope"
params = {{ tenant = "t-provider" }}

[profiles.p1]
provider = "cc"
client_id = "profile-id"
scopes = ["profile-scope"]
min_valid = "10m"
params = {{ tenant = "t-profile" }}
"#,
            m.url("/{tenant}/token")
        ),
    );
    for t in ["t-provider", "t-profile", "t-cli"] {
        m.set_default(&format!("/{t}/token"), Reply::Json(200, json!({ "access_token": t, "token_type": "Bearer" })));
    }
    let secret = |c: &mut std::process::Command| {
        c.env("TOKCLI_CLIENT_SECRET", "s");
    };
    let last = |t: &str| m.requests(&format!("/{t}/token")).pop().expect("a request");
    // Profile table over provider table: no provider argument needed either.
    home.run_with(&["login", "--profile", "p1"], secret).ok();
    let req = last("t-profile");
    assert_eq!((req.form_get("client_id"), req.form_get("scope")), (Some("profile-id"), Some("profile-scope")));
    assert_eq!(extra(&home, "p1")["min_valid"], 600);
    // Env over file.
    home.run_with(&["login", "--profile", "p1"], |c| {
        c.env("TOKCLI_CLIENT_SECRET", "s").env("TOKCLI_CLIENT_ID", "env-id");
    })
    .ok();
    assert_eq!(last("t-profile").form_get("client_id"), Some("env-id"));
    // CLI over env and file.
    home.run_with(
        &["login", "--profile", "p1", "--client-id", "cli-id", "--scope", "cli-scope", "--param", "tenant=t-cli"],
        |c| {
            c.env("TOKCLI_CLIENT_SECRET", "s").env("TOKCLI_CLIENT_ID", "env-id");
        },
    )
    .ok();
    let req = last("t-cli");
    assert_eq!((req.form_get("client_id"), req.form_get("scope")), (Some("cli-id"), Some("cli-scope")));
    // A profile without a table: the provider entry's values.
    home.run_with(&["login", "cc", "--profile", "p2"], secret).ok();
    let req = last("t-provider");
    assert_eq!((req.form_get("client_id"), req.form_get("scope")), (Some("provider-id"), Some("provider-scope")));
    assert_eq!(extra(&home, "p2").get("min_valid"), None);
}

#[test]
fn discovery_is_cached_for_a_day_and_refetched_when_an_endpoint_fails() {
    let m = MockAs::start();
    let home = Home::new();
    write_config(&home, &format!("[providers.corp]\nissuer = \"{}\"\n", m.issuer()));
    let wk = "/.well-known/oauth-authorization-server";
    let login = |profile: &str| {
        home.run_with(&["login", "corp", "--client-credentials", "--client-id", "svc", "--profile", profile], |c| {
            c.env("TOKCLI_CLIENT_SECRET", "svc-secret");
        })
    };
    login("a").ok();
    assert_eq!(m.count(wk), 1);
    let (doc, at): (String, i64) = home
        .sql()
        .query_row("SELECT document, fetched_at FROM discovery_cache WHERE issuer = ?1", [m.issuer()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("cached");
    assert!(doc.contains("token_endpoint") && at > 0);
    login("b").ok();
    assert_eq!(m.count(wk), 1, "the second login used the cache");

    // Older than a day: fetched again.
    home.sql().execute("UPDATE discovery_cache SET fetched_at = fetched_at - 90000", []).expect("age");
    login("c").ok();
    assert_eq!(m.count(wk), 2);

    // The cached token endpoint stopped answering: discovery runs again and the login retries.
    let dead = doc.replace(&format!("{}/token", m.issuer()), "http://127.0.0.1:9/token");
    home.sql()
        .execute("UPDATE discovery_cache SET document = ?1, fetched_at = strftime('%s','now')", [&dead])
        .expect("poison");
    let r = login("d");
    r.ok();
    assert_eq!(m.count(wk), 3);
    let fixed: String = home.sql().query_row("SELECT document FROM discovery_cache", [], |r| r.get(0)).expect("cached");
    assert!(!fixed.contains("127.0.0.1:9/"), "the fresh document replaced the stale one");
    assert_eq!(list_entry(&home, "d")["issuer"], m.issuer());
}

#[test]
fn login_needs_no_secret_on_the_command_line() {
    let home = Home::new();
    let r = home.run(&["login", "notion", "--client-id", "n", "--client-secret", "oops"]);
    r.code(2);
    assert!(!r.stderr.contains("oops") || r.stderr.contains("unexpected argument"), "{}", r.stderr);
    let r = home.run(&["login", "nonesuch", "--client-id", "n"]);
    r.code(2);
    assert!(r.stderr.contains("unknown provider") && r.stderr.contains("alarmbox"), "{}", r.stderr);
}

/// MD-05: a second provider that claims an issuer another profile already uses, with another
/// token endpoint, is refused (exit 2) before any request, and the store is unchanged. Logging the
/// same profile in again is allowed.
#[test]
fn md_05_two_providers_cannot_share_an_issuer() {
    let home = Home::new();
    let m = MockAs::start();
    let iss = m.issuer();
    write_config(
        &home,
        &format!(
            "[providers.same]\nissuer = \"{iss}\"\n\n[providers.imposter]\nissuer = \"{iss}\"\ntoken_endpoint = \"{iss}/other/token\"\n"
        ),
    );
    let login = |provider: &str, profile: &str| {
        home.run_with(&["login", provider, "--client-id", CLIENT_ID, "--profile", profile, "--timeout", "30s"], |c| {
            c.env("BROWSER", browser_script());
        })
    };
    login("same", "a").ok();
    login("same", "a").ok();
    let before = home.sha256_db();
    let requests = m.all_requests().len();
    let r = login("imposter", "b");
    r.code(2);
    assert!(r.stderr.contains("already used by profile a") && r.stderr.contains("RFC 9207"), "{}", r.stderr);
    assert_eq!(home.sha256_db(), before, "nothing stored");
    assert!(
        m.all_requests()[requests..].iter().all(|q| q.path != "/authorize" && !q.path.ends_with("/token")),
        "no authorization or token request was made"
    );
    // The same issuer with the same endpoints is another account at the same provider: allowed.
    login("same", "c").ok();
}

/// LB-06: a provider that requires `localhost` in the redirect URI gets a listener on 127.0.0.1
/// and on [::1] with the same port, so the login succeeds whichever address the browser resolves
/// `localhost` to. The browser here follows the authorization redirect with `curl -4` or `curl -6`.
#[test]
fn lb_06_localhost_redirect_works_over_ipv4_and_ipv6() {
    let m = MockAs::start();
    let home = Home::new();
    write_config(
        &home,
        &format!(
            "[providers.lh]\nissuer = \"{}\"\nredirect_host = \"localhost\"\nclient_id = \"{CLIENT_ID}\"\n",
            m.issuer()
        ),
    );
    for family in ["-6", "-4"] {
        let dir = tempfile::tempdir().unwrap();
        let browser = dir.path().join("browser");
        let log = dir.path().join("callback");
        // The authorization endpoint redirects to the callback; that request goes to the one
        // address family only, and curl records the address it reached.
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\nloc=$(curl -s -o /dev/null -w '%{{redirect_url}}' \"$1\")\nprintf %s \"$loc\" > '{log}.url'\n\
                 exec curl -s {family} -L --max-time 30 -o /dev/null -w '%{{remote_ip}}' \"$loc\" > '{log}'\n",
                log = log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let profile = format!("lh{}", &family[1..]);
        let r = home.run_with(&["login", "lh", "--profile", &profile, "--timeout", "30s"], |c| {
            c.env("BROWSER", &browser);
        });
        r.ok();
        let reached = std::fs::read_to_string(&log).unwrap();
        assert_eq!(reached, if family == "-6" { "::1" } else { "127.0.0.1" }, "curl {family} reached {reached}");
        let callback = std::fs::read_to_string(format!("{}.url", log.display())).unwrap();
        assert!(callback.starts_with("http://localhost:") && callback.contains("/callback?"), "{callback}");
        home.run(&["token", &profile]).ok();
    }
}
