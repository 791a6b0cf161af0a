//! The sanitising Markdown renderer on the body of a `content/users/*.md` file: what a longer
//! profile text looks like, with the things the renderer must defuse (raw HTML, a `javascript:`
//! link) among ordinary Markdown.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use strife_gen::bench_support::user_markdown;

/// A content file's body (its front matter is TOML, not Markdown), about 1.5 KB.
const BODY: &str = r#"# About me

I maintain a few **Discord bots** and write about them on [my blog](https://nelly.example/).
Most of them are small: a _reminder_ bot, a ~~music~~ playlist bot, and one that answers
questions about rate limits in our server's `#help` channel.

## Things I can help with

- Ask me about rate limits, sharding and gateway intents
- Reviewing your bot's permissions before you invite it
- [Synth patches](https://patches.example/nelly?sort=new&page=2), if you insist

1. Read the docs first
2. Then ask in the server
3. Then ping me <@80351110224678912>

| Bot       | Servers | Language |
|-----------|--------:|----------|
| Remindy   |     120 | Rust     |
| Playlists |      45 | Python   |

```rust
fn main() {
    println!("hello from a code block");
}
```

> Quiet hours: 22:00 to 08:00 (UTC+1). Messages are fine, calls are not.

<script>alert("raw HTML is shown as text")</script>
A [link that loses its href](javascript:alert(1)) and an image: ![badge](https://img.example/badge.png)

Footnotes work too.[^1]

[^1]: Like this one.
"#;

pub(crate) fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("markdown");
    crate::short(&mut group);
    group.throughput(Throughput::Bytes(BODY.len() as u64));
    group.bench_function("user_file", |b| b.iter(|| user_markdown(black_box(BODY))));
    group.finish();
}
