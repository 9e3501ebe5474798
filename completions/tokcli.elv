
use builtin;
use str;

set edit:completion:arg-completer[tokcli] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'tokcli'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'tokcli'= {
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand login 'Log in to a provider and store the grant'
            cand token 'Print a valid access token, refreshing it first when needed'
            cand refresh 'Refresh profiles now (forced), or only those expiring soon'
            cand list 'List stored profiles (never shows secrets)'
            cand revoke 'Revoke a profile''s grant at the provider, then delete it locally'
            cand providers 'List the built-in provider presets and the providers of config.toml'
            cand doctor 'Check the store, its permissions, its key and every profile; --reset moves a broken store aside'
            cand rekey 'Rotate the store key and re-encrypt every profile (crash-safe)'
            cand exec 'Run a command with fresh tokens in its environment'
            cand generate 'Write the shell completions and man pages (for packagers and the repository)'
        }
        &'tokcli;login'= {
            cand --profile 'Name for the stored profile (default: derived from the provider)'
            cand --client-id 'OAuth client id'
            cand --scope 'Scope to request (repeatable; space-separated lists are split)'
            cand --port 'Fixed loopback port(s) to try in order, for providers without any-port matching'
            cand --param 'Provider parameter (`tenant=…`, `base_url=…`) or extra authorization parameter (repeatable; an empty value drops a preset''s parameter)'
            cand --timeout 'Give up after this long (e.g. 90s, 5m)'
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand --client-secret-stdin 'Read the client secret from stdin (or set TOKCLI_CLIENT_SECRET); never pass it as a flag'
            cand --device 'Device authorization grant (RFC 8628): show a code to enter on another device'
            cand --manual 'Print the URL and read the redirect URL (or code) from stdin: for SSH and out-of-band providers'
            cand --client-credentials 'Client credentials grant (machine-to-machine; needs a client secret)'
            cand --refresh-token-stdin 'Import an existing refresh token read from stdin, validated by refreshing it at once'
            cand --no-browser 'Do not start a browser; print the URL on stderr and keep listening'
            cand --json 'Print a JSON summary of the stored profile on stdout (never a secret)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'tokcli;token'= {
            cand --min-valid 'Refresh when the token is valid for less than this (default: 5m, or half its lifetime)'
            cand --format 'Output format'
            cand --env-name 'Variable name for --format env and github-env'
            cand --timeout 'Whole-command deadline'
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand --force-refresh 'Refresh even if the cached token is still valid'
            cand --no-refresh 'Never contact the provider; exit 3 when the cached token is stale'
            cand --strict 'Fail (exit 4) instead of printing a still-valid cached token when the refresh fails'
            cand --id-token 'Print the stored OpenID Connect ID token instead of the access token (exit 3 when there is none)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'tokcli;refresh'= {
            cand --expiring-within 'Only refresh profiles expiring within this window (e.g. 1h)'
            cand --jobs 'Refreshes to run at once'
            cand --timeout 'Whole-command deadline'
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand --all 'Every active profile'
            cand --json 'A JSON report on stdout'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'tokcli;list'= {
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand --json 'JSON on stdout'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'tokcli;revoke'= {
            cand --timeout 'Whole-command deadline'
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand --local-only 'Delete locally without contacting the provider (the tokens stay valid there)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'tokcli;providers'= {
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand --json 'JSON on stdout (the shape is documented in `tokcli providers --help` and docs/providers.md)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'tokcli;doctor'= {
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand --json 'A JSON report on stdout'
            cand --reset 'Move an unreadable or corrupt store (or one whose key is lost) aside as tokcli.db.corrupt-<time>'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'tokcli;rekey'= {
            cand --timeout 'Whole-command deadline (waiting for every profile''s lock)'
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'tokcli;exec'= {
            cand --env-name 'Variable for a PROFILE given without =NAME'
            cand --min-valid 'Refresh first unless each token stays valid this long (default: 5m, or half its lifetime)'
            cand --timeout 'Deadline for getting the tokens (the command itself is not timed)'
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand --allow-nested 'Run even inside another `tokcli exec` (TOKCLI_EXEC_DEPTH set)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'tokcli;generate'= {
            cand --out 'Directory to write completions/ and man/ into'
            cand --home 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)'
            cand --color 'When to use colours on stderr'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --verbose 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
            cand --fix-permissions 'Repair group/world-accessible store files instead of refusing to run'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
