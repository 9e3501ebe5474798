# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tokcli_global_optspecs
    string join \n home= q/quiet v/verbose color= fix-permissions insecure-plaintext-key passphrase-fd= h/help V/version
end

function __fish_tokcli_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tokcli_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tokcli_using_subcommand
    set -l cmd (__fish_tokcli_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tokcli -n "__fish_tokcli_needs_command" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_needs_command" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_needs_command" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_needs_command" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_needs_command" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_needs_command" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_needs_command" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_needs_command" -s h -l help -d 'Print help'
complete -c tokcli -n "__fish_tokcli_needs_command" -s V -l version -d 'Print version'
complete -c tokcli -n "__fish_tokcli_needs_command" -f -a "login" -d 'Log in to a provider and store the grant'
complete -c tokcli -n "__fish_tokcli_needs_command" -f -a "token" -d 'Print a valid access token, refreshing it first when needed'
complete -c tokcli -n "__fish_tokcli_needs_command" -f -a "refresh" -d 'Refresh profiles now (forced), or only those expiring soon'
complete -c tokcli -n "__fish_tokcli_needs_command" -f -a "list" -d 'List stored profiles (never shows secrets)'
complete -c tokcli -n "__fish_tokcli_needs_command" -f -a "revoke" -d 'Revoke a profile\'s grant at the provider, then delete it locally'
complete -c tokcli -n "__fish_tokcli_needs_command" -f -a "providers" -d 'List the built-in provider presets and the providers of config.toml'
complete -c tokcli -n "__fish_tokcli_needs_command" -f -a "doctor" -d 'Check the store, its permissions, its key and every profile; --reset moves a broken store aside'
complete -c tokcli -n "__fish_tokcli_needs_command" -f -a "rekey" -d 'Rotate the store key and re-encrypt every profile (crash-safe)'
complete -c tokcli -n "__fish_tokcli_needs_command" -f -a "exec" -d 'Run a command with fresh tokens in its environment'
complete -c tokcli -n "__fish_tokcli_needs_command" -f -a "generate" -d 'Write the shell completions and man pages (for packagers and the repository)'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l profile -d 'Name for the stored profile (default: derived from the provider)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l client-id -d 'OAuth client id' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l scope -d 'Scope to request (repeatable; space-separated lists are split)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l port -d 'Fixed loopback port(s) to try in order, for providers without any-port matching' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l param -d 'Provider parameter (`tenant=…`, `base_url=…`) or extra authorization parameter (repeatable; an empty value drops a preset\'s parameter)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l timeout -d 'Give up after this long (e.g. 90s, 5m)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l client-secret-stdin -d 'Read the client secret from stdin (or set TOKCLI_CLIENT_SECRET); never pass it as a flag'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l device -d 'Device authorization grant (RFC 8628): show a code to enter on another device'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l manual -d 'Print the URL and read the redirect URL (or code) from stdin: for SSH and out-of-band providers'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l client-credentials -d 'Client credentials grant (machine-to-machine; needs a client secret)'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l refresh-token-stdin -d 'Import an existing refresh token read from stdin, validated by refreshing it at once'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l no-browser -d 'Do not start a browser; print the URL on stderr and keep listening'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l json -d 'Print a JSON summary of the stored profile on stdout (never a secret)'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -s h -l help -d 'Print help'
complete -c tokcli -n "__fish_tokcli_using_subcommand login" -s V -l version -d 'Print version'
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l min-valid -d 'Refresh when the token is valid for less than this (default: 5m, or half its lifetime)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l format -d 'Output format' -r -f -a "raw\t'The token alone'
header\t'`Authorization: Bearer <token>`'
json\t'`{"access_token", "token_type", "expires_at", "expires_in", "scope", "profile"}`'
env\t'`export TOKCLI_TOKEN=<token>`'
github-env\t'Append `TOKCLI_TOKEN=<token>` to `$GITHUB_ENV` (masked first); prints nothing'"
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l env-name -d 'Variable name for --format env and github-env' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l timeout -d 'Whole-command deadline' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l force-refresh -d 'Refresh even if the cached token is still valid'
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l no-refresh -d 'Never contact the provider; exit 3 when the cached token is stale'
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l strict -d 'Fail (exit 4) instead of printing a still-valid cached token when the refresh fails'
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l id-token -d 'Print the stored OpenID Connect ID token instead of the access token (exit 3 when there is none)'
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tokcli -n "__fish_tokcli_using_subcommand token" -s V -l version -d 'Print version'
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -l expiring-within -d 'Only refresh profiles expiring within this window (e.g. 1h)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -l jobs -d 'Refreshes to run at once' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -l timeout -d 'Whole-command deadline' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -l all -d 'Every active profile'
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -l json -d 'A JSON report on stdout'
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -s h -l help -d 'Print help'
complete -c tokcli -n "__fish_tokcli_using_subcommand refresh" -s V -l version -d 'Print version'
complete -c tokcli -n "__fish_tokcli_using_subcommand list" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand list" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_using_subcommand list" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand list" -l json -d 'JSON on stdout'
complete -c tokcli -n "__fish_tokcli_using_subcommand list" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_using_subcommand list" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_using_subcommand list" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_using_subcommand list" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_using_subcommand list" -s h -l help -d 'Print help'
complete -c tokcli -n "__fish_tokcli_using_subcommand list" -s V -l version -d 'Print version'
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -l timeout -d 'Whole-command deadline' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -l local-only -d 'Delete locally without contacting the provider (the tokens stay valid there)'
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -s h -l help -d 'Print help'
complete -c tokcli -n "__fish_tokcli_using_subcommand revoke" -s V -l version -d 'Print version'
complete -c tokcli -n "__fish_tokcli_using_subcommand providers" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand providers" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_using_subcommand providers" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand providers" -l json -d 'JSON on stdout (the shape is documented in `tokcli providers --help` and docs/providers.md)'
complete -c tokcli -n "__fish_tokcli_using_subcommand providers" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_using_subcommand providers" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_using_subcommand providers" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_using_subcommand providers" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_using_subcommand providers" -s h -l help -d 'Print help'
complete -c tokcli -n "__fish_tokcli_using_subcommand providers" -s V -l version -d 'Print version'
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -l json -d 'A JSON report on stdout'
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -l reset -d 'Move an unreadable or corrupt store (or one whose key is lost) aside as tokcli.db.corrupt-<time>'
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c tokcli -n "__fish_tokcli_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c tokcli -n "__fish_tokcli_using_subcommand rekey" -l timeout -d 'Whole-command deadline (waiting for every profile\'s lock)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand rekey" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand rekey" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_using_subcommand rekey" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand rekey" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_using_subcommand rekey" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_using_subcommand rekey" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_using_subcommand rekey" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_using_subcommand rekey" -s h -l help -d 'Print help'
complete -c tokcli -n "__fish_tokcli_using_subcommand rekey" -s V -l version -d 'Print version'
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -l env-name -d 'Variable for a PROFILE given without =NAME' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -l min-valid -d 'Refresh first unless each token stays valid this long (default: 5m, or half its lifetime)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -l timeout -d 'Deadline for getting the tokens (the command itself is not timed)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -l allow-nested -d 'Run even inside another `tokcli exec` (TOKCLI_EXEC_DEPTH set)'
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -s h -l help -d 'Print help'
complete -c tokcli -n "__fish_tokcli_using_subcommand exec" -s V -l version -d 'Print version'
complete -c tokcli -n "__fish_tokcli_using_subcommand generate" -l out -d 'Directory to write completions/ and man/ into' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand generate" -l home -d 'Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)' -r -F
complete -c tokcli -n "__fish_tokcli_using_subcommand generate" -l color -d 'When to use colours on stderr' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tokcli -n "__fish_tokcli_using_subcommand generate" -l passphrase-fd -d 'Read the store\'s passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)' -r
complete -c tokcli -n "__fish_tokcli_using_subcommand generate" -s q -l quiet -d 'Print only data and errors'
complete -c tokcli -n "__fish_tokcli_using_subcommand generate" -s v -l verbose -d 'More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets'
complete -c tokcli -n "__fish_tokcli_using_subcommand generate" -l fix-permissions -d 'Repair group/world-accessible store files instead of refusing to run'
complete -c tokcli -n "__fish_tokcli_using_subcommand generate" -l insecure-plaintext-key -d 'Keep a new store\'s key in a plain 0600 file next to the database (no keyring). INSECURE: anyone who can read the file can decrypt every token; every use warns'
complete -c tokcli -n "__fish_tokcli_using_subcommand generate" -s h -l help -d 'Print help'
complete -c tokcli -n "__fish_tokcli_using_subcommand generate" -s V -l version -d 'Print version'
