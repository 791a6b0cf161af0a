//! Owns the welcome message (`community.welcome_message`): the theme's plain-text template,
//! checked at start-up against a sample profile, and rendered for each new member. It must not
//! send anything (the bot does) nor decide who gets it (the join does).

use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::config::Config;
use crate::discord::cdn::Cdn;
use crate::discord::models::{Snapshot, Snowflake, User};
use crate::publish::Publish;
use crate::site::profile::Profile;
use crate::site::theme::Theme;

/// Discord's limit on a message's `content`.
pub(crate) const MAX_MESSAGE_CHARS: usize = 2000;

/// Why the welcome message cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum WelcomeError {
    /// The theme cannot be read, or has no such template.
    #[error("community.welcome_message: {path}: {problem}")]
    Missing {
        /// Where the template was looked for.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The template does not parse, or fails on the sample profile.
    #[error("community.welcome_message: {path}: {source:#}")]
    Template {
        /// The template's file.
        path: PathBuf,
        /// minijinja's error, with the line.
        source: minijinja::Error,
    },
    /// Rendered for the sample profile, it is longer than Discord takes.
    #[error("community.welcome_message: {path}: the message for a sample profile is {chars} characters long; Discord takes at most {MAX_MESSAGE_CHARS}")]
    TooLong {
        /// The template's file.
        path: PathBuf,
        /// Its length for the sample profile.
        chars: usize,
    },
}

/// The welcome message's template, ready to render.
#[derive(Debug)]
pub(crate) struct Welcome {
    env: Environment<'static>,
    path: PathBuf,
    /// What the message is rendered with besides the profile.
    site: SiteContext,
}

/// `site` and `server` in the template.
#[derive(Debug, Clone, Serialize)]
struct SiteContext {
    title: String,
    url: String,
    server: String,
}

/// The template's name in its environment.
const NAME: &str = "welcome";

impl Welcome {
    /// Loads `community.welcome_message` from the theme (or its fallback) and renders it for a
    /// sample profile with the longest names Discord allows: a template error, or a message
    /// over Discord's limit, is found now rather than at the first new member.
    pub(crate) fn load(config: &Config, server: &str) -> Result<Option<Welcome>, WelcomeError> {
        let Some(name) = &config.community.welcome_message else {
            return Ok(None);
        };
        let theme_dir = config.theme_dir();
        let (path, source) = template_source(&theme_dir, name)?;
        let mut env = Environment::new();
        // Plain text: Discord shows the characters as they are, escaping would show `&amp;`.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_template_owned(NAME, source)
            .map_err(|source| WelcomeError::Template {
                path: path.clone(),
                source,
            })?;
        let site = SiteContext {
            title: config.site.title.clone(),
            url: config.site.base_url.url().to_string(),
            server: server.to_owned(),
        };
        let welcome = Welcome { env, path, site };
        let sample = sample_profile(config);
        let text = welcome
            .render(&sample)
            .map_err(|source| WelcomeError::Template {
                path: welcome.path.clone(),
                source,
            })?;
        let chars = text.chars().count();
        if chars > MAX_MESSAGE_CHARS {
            return Err(WelcomeError::TooLong {
                path: welcome.path,
                chars,
            });
        }
        Ok(Some(welcome))
    }

    /// The message for `profile`: at most [`MAX_MESSAGE_CHARS`] (a profile with more than the
    /// sample's connections and servers could make a looping template longer: it is cut).
    pub(crate) fn message_for(&self, profile: &Profile) -> Result<String, minijinja::Error> {
        let text = self.render(profile)?;
        if text.chars().count() <= MAX_MESSAGE_CHARS {
            return Ok(text);
        }
        tracing::warn!(user = %profile.id, file = %self.path.display(), "the welcome message is longer than Discord takes; sending its first {MAX_MESSAGE_CHARS} characters");
        Ok(text.chars().take(MAX_MESSAGE_CHARS).collect())
    }

    fn render(&self, profile: &Profile) -> Result<String, minijinja::Error> {
        let template = self.env.get_template(NAME)?;
        let text = template.render(minijinja::context! {
            profile => minijinja::value::Serde(profile),
            site => minijinja::value::Serde(&self.site),
            server => self.site.server.clone(),
        })?;
        Ok(text.trim().to_owned())
    }
}

/// The template `name` of the theme (or its fallback), read by the theme's rules (inside the
/// themes folder, no symlink out of it).
fn template_source(theme_dir: &Path, name: &str) -> Result<(PathBuf, String), WelcomeError> {
    let theme = Theme::load(theme_dir).map_err(|error| WelcomeError::Missing {
        path: theme_dir.join("templates").join(name),
        problem: error.to_string(),
    })?;
    match theme.templates.files.get(name) {
        Some(file) => Ok((file.path.clone(), file.source.clone())),
        None => Err(WelcomeError::Missing {
            path: theme.templates.path_of(name),
            problem: "no such template in the theme".to_owned(),
        }),
    }
}

/// A member with the longest names Discord allows (32 characters each) and everything shown.
fn sample_profile(config: &Config) -> Profile {
    let long = "W".repeat(32);
    let user = User {
        id: Snowflake(80351110224678912),
        username: long.to_lowercase(),
        discriminator: "0".to_owned(),
        global_name: Some(long),
        avatar: None,
        banner: None,
        accent_color: None,
        public_flags: 0,
        avatar_decoration_data: None,
        primary_guild: None,
        collectibles: None,
    };
    let snapshot = Snapshot {
        user,
        connections: Some(Vec::new()),
        guilds: Some(Vec::new()),
    };
    let everything = Publish {
        connections: true,
        guilds: true,
    };
    let cdn = Cdn::new(config.discord.cdn_base.url().clone());
    Profile::build(&snapshot, everything, &cdn, config.site.base_url.url())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(theme: &Path, extra: &str) -> Config {
        let themes = theme.parent().unwrap().display().to_string();
        let name = theme.file_name().unwrap().to_str().unwrap();
        let text = format!(
            "[site]\ntitle = \"Synth\"\nbase_url = \"https://example.org/\"\nthemes_dir = \"{themes}\"\ntheme = \"{name}\"\n[community]\nguild_id = \"400\"\njoin = \"offer\"\nwelcome_message = \"welcome.txt\"\n{extra}"
        );
        Config::from_toml(&text, &theme.parent().unwrap().join("strife.toml")).unwrap()
    }

    fn theme_with(welcome: &str) -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let theme = root.path().join("t");
        std::fs::create_dir_all(theme.join("templates")).unwrap();
        std::fs::write(theme.join("templates/welcome.txt"), welcome).unwrap();
        (root, theme)
    }

    #[test]
    fn the_message_is_plain_text_with_the_profile() {
        let (_root, theme) =
            theme_with("Hi {{ profile.display_name }} & welcome to {{ server }} <3\n");
        let welcome = Welcome::load(&config(&theme, ""), "Synth <Club>")
            .unwrap()
            .unwrap();
        let profile = sample_profile(&config(&theme, ""));
        let text = welcome.message_for(&profile).unwrap();
        assert_eq!(
            text,
            format!("Hi {} & welcome to Synth <Club> <3", "W".repeat(32))
        );
    }

    #[test]
    fn a_broken_or_long_template_is_refused_naming_the_file() {
        for (source, expected) in [
            ("{{ profile.nickname }}", "welcome.txt"),
            ("{% if %}", "welcome.txt"),
            (
                "{% for i in range(70) %}{{ profile.display_name }}{% endfor %}",
                "2240 characters",
            ),
        ] {
            let (_root, theme) = theme_with(source);
            let err = Welcome::load(&config(&theme, ""), "S").unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains("welcome.txt"), "{shown}");
            assert!(shown.contains(expected), "{source}: {shown}");
        }
        let (_root, theme) = theme_with("hi");
        let mut missing = config(&theme, "");
        missing.community.welcome_message = Some("nope.txt".into());
        let shown = Welcome::load(&missing, "S").unwrap_err().to_string();
        assert!(
            shown.contains("nope.txt") && shown.contains("no such template"),
            "{shown}"
        );
    }
}
