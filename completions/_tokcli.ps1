
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'tokcli' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'tokcli'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'tokcli' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Log in to a provider and store the grant')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Print a valid access token, refreshing it first when needed')
            [CompletionResult]::new('refresh', 'refresh', [CompletionResultType]::ParameterValue, 'Refresh profiles now (forced), or only those expiring soon')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List stored profiles (never shows secrets)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a profile''s grant at the provider, then delete it locally')
            [CompletionResult]::new('providers', 'providers', [CompletionResultType]::ParameterValue, 'List the built-in provider presets and the providers of config.toml')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the store, its permissions, its key and every profile; --reset moves a broken store aside')
            [CompletionResult]::new('rekey', 'rekey', [CompletionResultType]::ParameterValue, 'Rotate the store key and re-encrypt every profile (crash-safe)')
            [CompletionResult]::new('exec', 'exec', [CompletionResultType]::ParameterValue, 'Run a command with fresh tokens in its environment')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write the shell completions and man pages (for packagers and the repository)')
            break
        }
        'tokcli;login' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Name for the stored profile (default: derived from the provider)')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'OAuth client id')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Scope to request (repeatable; space-separated lists are split)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Fixed loopback port(s) to try in order, for providers without any-port matching')
            [CompletionResult]::new('--param', '--param', [CompletionResultType]::ParameterName, 'Provider parameter (`tenant=…`, `base_url=…`) or extra authorization parameter (repeatable; an empty value drops a preset''s parameter)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long (e.g. 90s, 5m)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('--client-secret-stdin', '--client-secret-stdin', [CompletionResultType]::ParameterName, 'Read the client secret from stdin (or set TOKCLI_CLIENT_SECRET); never pass it as a flag')
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'Device authorization grant (RFC 8628): show a code to enter on another device')
            [CompletionResult]::new('--manual', '--manual', [CompletionResultType]::ParameterName, 'Print the URL and read the redirect URL (or code) from stdin: for SSH and out-of-band providers')
            [CompletionResult]::new('--client-credentials', '--client-credentials', [CompletionResultType]::ParameterName, 'Client credentials grant (machine-to-machine; needs a client secret)')
            [CompletionResult]::new('--refresh-token-stdin', '--refresh-token-stdin', [CompletionResultType]::ParameterName, 'Import an existing refresh token read from stdin, validated by refreshing it at once')
            [CompletionResult]::new('--no-browser', '--no-browser', [CompletionResultType]::ParameterName, 'Do not start a browser; print the URL on stderr and keep listening')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON summary of the stored profile on stdout (never a secret)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'tokcli;token' {
            [CompletionResult]::new('--min-valid', '--min-valid', [CompletionResultType]::ParameterName, 'Refresh when the token is valid for less than this (default: 5m, or half its lifetime)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--env-name', '--env-name', [CompletionResultType]::ParameterName, 'Variable name for --format env and github-env')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Whole-command deadline')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('--force-refresh', '--force-refresh', [CompletionResultType]::ParameterName, 'Refresh even if the cached token is still valid')
            [CompletionResult]::new('--no-refresh', '--no-refresh', [CompletionResultType]::ParameterName, 'Never contact the provider; exit 3 when the cached token is stale')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail (exit 4) instead of printing a still-valid cached token when the refresh fails')
            [CompletionResult]::new('--id-token', '--id-token', [CompletionResultType]::ParameterName, 'Print the stored OpenID Connect ID token instead of the access token (exit 3 when there is none)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'tokcli;refresh' {
            [CompletionResult]::new('--expiring-within', '--expiring-within', [CompletionResultType]::ParameterName, 'Only refresh profiles expiring within this window (e.g. 1h)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Refreshes to run at once')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Whole-command deadline')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every active profile')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'A JSON report on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'tokcli;list' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'tokcli;revoke' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Whole-command deadline')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('--local-only', '--local-only', [CompletionResultType]::ParameterName, 'Delete locally without contacting the provider (the tokens stay valid there)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'tokcli;providers' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'JSON on stdout (the shape is documented in `tokcli providers --help` and docs/providers.md)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'tokcli;doctor' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'A JSON report on stdout')
            [CompletionResult]::new('--reset', '--reset', [CompletionResultType]::ParameterName, 'Move an unreadable or corrupt store (or one whose key is lost) aside as tokcli.db.corrupt-<time>')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'tokcli;rekey' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Whole-command deadline (waiting for every profile''s lock)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'tokcli;exec' {
            [CompletionResult]::new('--env-name', '--env-name', [CompletionResultType]::ParameterName, 'Variable for a PROFILE given without =NAME')
            [CompletionResult]::new('--min-valid', '--min-valid', [CompletionResultType]::ParameterName, 'Refresh first unless each token stays valid this long (default: 5m, or half its lifetime)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Deadline for getting the tokens (the command itself is not timed)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('--allow-nested', '--allow-nested', [CompletionResultType]::ParameterName, 'Run even inside another `tokcli exec` (TOKCLI_EXEC_DEPTH set)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'tokcli;generate' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Directory to write completions/ and man/ into')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on stderr')
            [CompletionResult]::new('--passphrase-fd', '--passphrase-fd', [CompletionResultType]::ParameterName, 'Read the store''s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets')
            [CompletionResult]::new('--fix-permissions', '--fix-permissions', [CompletionResultType]::ParameterName, 'Repair group/world-accessible store files instead of refusing to run')
            [CompletionResult]::new('--insecure-plaintext-key', '--insecure-plaintext-key', [CompletionResultType]::ParameterName, 'Keep a new store''s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
