use super::*;

fn form(body: &str) -> EditForm {
    EditForm::parse(body.as_bytes()).unwrap()
}

const ALL: Offers = Offers {
    connections: true,
    guilds: true,
};

fn valid(body: &str) -> ProfileEdits {
    form(body).validate(ALL, &ProfileEdits::default()).unwrap()
}

fn errors(body: &str) -> FieldErrors {
    form(body)
        .validate(ALL, &ProfileEdits::default())
        .unwrap_err()
}

#[test]
fn a_full_form_becomes_edits() {
    let edits = valid(
        "csrf=t&bio=Builds+bots&about=**hi**&pronouns=she%2Fher&link_title_1=Blog\
         &link_url_1=https%3A%2F%2Fnelly.example&link_url_2=https%3A%2F%2Fx.example%2Fa\
         &show_guilds=1",
    );
    assert_eq!(edits.bio.as_deref(), Some("Builds bots"));
    assert_eq!(edits.about.as_deref(), Some("**hi**"));
    assert_eq!(edits.pronouns.as_deref(), Some("she/her"));
    assert_eq!(
        edits.links,
        vec![
            EditLink {
                title: "Blog".into(),
                url: "https://nelly.example/".into()
            },
            // A link without a title is titled by its address.
            EditLink {
                title: "https://x.example/a".into(),
                url: "https://x.example/a".into()
            },
        ]
    );
    assert!(!edits.show_connections, "an unticked box is not shown");
    assert!(edits.show_guilds);
    assert_eq!(form("csrf=t").csrf(), Some("t"));
}

#[test]
fn an_empty_form_clears_everything() {
    let edits = valid("csrf=t&bio=+++&show_connections=1&show_guilds=1");
    assert_eq!(edits, ProfileEdits::default());
}

#[test]
fn only_the_forms_field_names_are_accepted() {
    for name in [
        "user",
        "id",
        "link_url_9",
        "link_url_0",
        "link_url_01",
        "link_url_",
        "Bio",
    ] {
        assert_eq!(
            EditForm::parse(format!("{name}=x").as_bytes()),
            Err(MalformedForm::Unknown(name.into())),
            "{name}"
        );
    }
    assert_eq!(
        EditForm::parse(b"bio=a&bio=b"),
        Err(MalformedForm::Repeated("bio".into()))
    );
    assert!(EditForm::parse(b"link_url_8=x&link_title_8=y").is_ok());
}

#[test]
fn limits_are_enforced_per_field() {
    let long = |n: usize| "é".repeat(n);
    assert!(valid(&format!("bio={}", long(BIO_CHARS))).bio.is_some());
    let wrong = errors(&format!(
        "bio={}&pronouns={}&about={}&link_title_2={}&link_url_2=https://a.example",
        long(BIO_CHARS + 1),
        long(PRONOUNS_CHARS + 1),
        long(ABOUT_CHARS + 1),
        long(LINK_TITLE_CHARS + 1),
    ));
    assert_eq!(
        wrong.keys().collect::<Vec<_>>(),
        ["about", "bio", "link_title_2", "pronouns"]
    );
    assert!(wrong["bio"].contains("191 characters"), "{wrong:?}");
    assert!(wrong["bio"].contains("at most 190"), "{wrong:?}");
}

#[test]
fn a_bio_is_one_line_and_about_may_have_many() {
    let wrong = errors("bio=one%0Atwo&pronouns=a%0Db");
    assert_eq!(wrong["bio"], "must be one line");
    assert_eq!(wrong["pronouns"], "must be one line");
    let edits = valid("about=one%0D%0Atwo");
    assert_eq!(edits.about.as_deref(), Some("one\ntwo"));
    let wrong = errors("about=a%00b&bio=a%07b");
    assert!(wrong["about"].contains("control characters"));
    assert!(wrong["bio"].contains("control characters"));
}

#[test]
fn only_https_links_are_accepted() {
    for (url, problem) in [
        ("javascript:alert(1)", "not javascript:"),
        ("JAVASCRIPT:alert(1)", "not javascript:"),
        ("java%09script:alert(1)", "control characters"),
        ("http://a.example/", "not http:"),
        ("data:text/html,x", "not data:"),
        ("//a.example/", "not a web address"),
        ("nelly.example", "not a web address"),
    ] {
        let wrong = errors(&format!("link_title_3=x&link_url_3={url}"));
        assert!(wrong["link_url_3"].contains(problem), "{url}: {wrong:?}");
    }
    let wrong = errors("link_title_1=Blog");
    assert_eq!(wrong["link_url_1"], "a link needs an https:// address");
}

#[test]
fn bidi_controls_are_removed_from_every_field() {
    let edits = valid(
        "bio=a%E2%80%AEb&pronouns=%E2%81%A6x&about=c%E2%80%ADd\
         &link_title_1=exe.%E2%80%AEtxt&link_url_1=https://a.example/%E2%80%AE",
    );
    assert_eq!(edits.bio.as_deref(), Some("ab"));
    assert_eq!(edits.pronouns.as_deref(), Some("x"));
    assert_eq!(edits.about.as_deref(), Some("cd"));
    assert_eq!(edits.links[0].title, "exe.txt");
    assert_eq!(edits.links[0].url, "https://a.example/");
}

#[test]
fn choices_not_offered_keep_their_previous_value() {
    let previous = ProfileEdits {
        show_connections: false,
        ..ProfileEdits::default()
    };
    let none = Offers::default();
    let edits = form("show_connections=1")
        .validate(none, &previous)
        .unwrap();
    assert!(
        !edits.show_connections,
        "not offered: the form cannot turn it on"
    );
    assert!(edits.show_guilds);
    let values = form("show_connections=1").values(none, &previous);
    assert!(!values.show_connections);
}

#[test]
fn the_form_shows_what_was_sent() {
    let values = form("bio=%3Cb%3E&link_url_2=javascript:x").values(ALL, &ProfileEdits::default());
    assert_eq!(values.bio, "<b>");
    assert_eq!(values.links.len(), MAX_LINKS);
    assert_eq!(values.links[1].url, "javascript:x");
    assert_eq!(values.links[1].n, 2);
    let stored = FormValues::from(&valid("link_url_1=https://a.example"));
    assert_eq!(stored.links[0].url, "https://a.example/");
    assert_eq!(stored.links[7].url, "");
}

#[test]
fn edits_change_the_page_model_where_they_say_something() {
    let mut profile = crate::site::fixtures::profile(1, "Nelly");
    ProfileEdits::default().apply(&mut profile);
    assert_eq!(
        profile,
        crate::site::fixtures::profile(1, "Nelly"),
        "no edits, no change"
    );

    let edits = valid(
        "bio=Hi&about=%3Cscript%3Ealert(1)%3C%2Fscript%3E+%5Bx%5D(javascript:alert(1))\
         &link_url_1=https://a.example&show_guilds=1",
    );
    edits.apply(&mut profile);
    assert_eq!(profile.bio.as_deref(), Some("Hi"));
    assert_eq!(profile.pronouns, None);
    assert_eq!(profile.links[0].url, "https://a.example/");
    let body = profile.body_html.as_deref().unwrap();
    assert!(!body.contains("<script"), "{body}");
    assert!(body.contains("&lt;script&gt;"), "{body}");
    assert!(!body.contains("href"), "no javascript: link: {body}");
    assert_eq!(profile.connections, None, "not shown");
    assert!(profile.guilds.is_some());
}
