//! `tokcli rekey`: rotates the store key and re-encrypts every profile, crash-safe at every step
//! (SC-04; the steps are in `store::rekey`).
//!
//! For the `keyring` and `file:` sources the new key replaces the old one there and nothing is
//! printed on stdout. For `env` tokcli cannot write the new key anywhere the next run will read
//! it, so the new key is the data this command prints (once, on stdout, before the store depends
//! on it); the user then updates `TOKCLI_STORE_KEY`.

use secrecy::ExposeSecret as _;

use super::Ctx;
use crate::cli::RekeyArgs;
use crate::error::Error;

pub fn run(ctx: &Ctx, a: &RekeyArgs) -> anyhow::Result<()> {
    let deadline = super::deadline(&a.timeout)?;
    let store = ctx.store()?.ok_or_else(|| {
        Error::usage("there is no store to rekey yet").hint("`tokcli login <provider>` creates the store and its key")
    })?;
    let pin = store.key_source_pin().to_owned();
    let db = store.paths().db.clone();
    let printer = &ctx.printer;
    let r = store.rekey(deadline, &mut |key| {
        // Under GitHub Actions the new key is masked before it is printed, like every token.
        printer.mask(key.expose_secret(), false).and_then(|()| printer.data(key.expose_secret())).map_err(|e| {
            Error::key(format!("cannot print the new key: {e}"))
                .hint("nothing was changed; the current key stays valid")
        })
    })?;
    let summary = format!(
        "Rotated the store key of {}: key id {} → {}; re-encrypted {} profile{}",
        db.display(),
        r.old_key_id,
        r.new_key_id,
        r.profiles,
        if r.profiles == 1 { "" } else { "s" }
    );
    if let Some(e) = r.promote_error {
        return Err(Error::key(format!(
            "{summary}, but the key source still holds the old key as current: {}",
            e.message
        ))
        .hint(
            "the store is readable (the new key is staged and found automatically); rerun `tokcli rekey` to finish, \
which also deletes the old key",
        )
        .into());
    }
    if pin == "env" {
        printer.info(&format!("{summary}."));
        printer.warn(
            "the new key is on stdout: set TOKCLI_STORE_KEY (e.g. your CI secret) to it now; the old key no longer \
opens this store",
        );
    } else {
        printer.info(&format!("{summary}; the old key was deleted from {pin}."));
    }
    Ok(())
}
