//! `groups list` (CSV to stdout) and `groups create NAME`.
//!
//! Creating a group is not idempotent: when the answer to `POST /customer_groups` is lost
//! (a dropped connection, a 5xx), the group may exist, so the name is looked up before
//! sending the create again. A run therefore never makes two groups, and a lost answer whose
//! group did get created is a success.

use crate::cmd::{connect, fatal_for_groups, fatal_if_auth};
use crate::csvio::neutralise;
use crate::exit::Exit;
use crate::settings::Settings;

/// List or create customer groups.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// Print the store's customer groups as CSV (id,name,is_default).
    List,
    /// Create a customer group.
    Create {
        /// The new group's name.
        name: String,
    },
}

pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    let client = connect(g)?;
    match args.action {
        Action::List => {
            let groups = client.groups().await.map_err(fatal_for_groups)?;
            let mut out = std::io::stdout().lock();
            if g.bom {
                std::io::Write::write_all(&mut out, crate::outfile::UTF8_BOM)?;
            }
            let mut wtr = csv::Writer::from_writer(out);
            wtr.write_record(["id", "name", "is_default"])?;
            for grp in groups {
                wtr.write_record([
                    grp.id.to_string(),
                    neutralise(&grp.name).into_owned(),
                    grp.is_default.to_string(),
                ])?;
            }
            wtr.flush()?;
            Ok(Exit::Ok)
        }
        Action::Create { name } => {
            let name = name.trim().to_string();
            if name.is_empty() {
                return crate::exit::usage("the group name is empty");
            }
            // Creating a group that exists would fail with 409: say so plainly instead.
            let existing = client.groups().await.map_err(fatal_if_auth)?;
            if let Some(grp) = existing
                .iter()
                .find(|grp| grp.name.trim().eq_ignore_ascii_case(&name))
            {
                anyhow::bail!(
                    "a customer group named {:?} already exists (id {})",
                    grp.name,
                    grp.id
                );
            }
            let grp = client
                .create_group_once(&name)
                .await
                .map_err(|e| match e.status() {
                    // Someone else created it between our check and our create.
                    Some(409) => anyhow::anyhow!(
                        "a customer group named {name:?} already exists ({})",
                        e.message()
                    ),
                    _ => fatal_if_auth(e),
                })?;
            println!("{}", grp.id);
            if !g.quiet {
                eprintln!("created customer group {:?} with id {}", grp.name, grp.id);
            }
            Ok(Exit::Ok)
        }
    }
}
