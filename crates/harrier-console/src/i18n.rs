//! The console's words in English and Japanese. The language is the `lang` cookie (set by the
//! switch in the header) or else the first of `Accept-Language` that the console speaks.

/// A language the console speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// `en` or `ja`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The language of a code.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The first language of an `Accept-Language` header the console speaks (by weight).
    pub fn from_accept(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',').take(32) {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(l) = Lang::parse(primary) {
                if best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, l));
                }
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The word for `key` (the key itself when it has none).
    pub fn t(self, key: &'static str) -> &'static str {
        WORDS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, en, ja)| match self {
                Lang::En => *en,
                Lang::Ja => *ja,
            })
            .unwrap_or(key)
    }
}

/// `(key, English, Japanese)`.
const WORDS: &[(&str, &str, &str)] = &[
    ("overview", "Overview", "概要"),
    ("incidents", "Incidents", "インシデント"),
    ("alerts", "Alerts", "アラート"),
    ("posture", "Posture", "ポスチャ"),
    ("images", "Images", "イメージ"),
    ("rules", "Rules", "ルール"),
    ("users", "Users", "ユーザー"),
    ("logout", "Log out", "ログアウト"),
    ("login", "Log in", "ログイン"),
    ("user", "User", "ユーザー名"),
    ("password", "Password", "パスワード"),
    ("login_failed", "Wrong user or password.", "ユーザー名またはパスワードが違います。"),
    ("login_limited", "Too many failed logins; wait a minute.", "ログインの失敗が多すぎます。1 分待ってください。"),
    ("open_incidents", "Open incidents", "未解決のインシデント"),
    ("alerts_over_time", "Alerts by priority, last 30 days", "優先度別アラート(過去 30 日)"),
    ("posture_score", "Posture score", "ポスチャスコア"),
    ("score_over_time", "Score over time", "スコアの推移"),
    ("health", "Sources and outputs", "ソースと出力"),
    ("source", "Source", "ソース"),
    ("output", "Output", "出力"),
    ("lag", "Lag", "遅延"),
    ("last_checkpoint", "Last checkpoint", "最終チェックポイント"),
    ("delivered", "Delivered", "配信済み"),
    ("failures", "Failures", "失敗"),
    ("last_error", "Last error", "最後のエラー"),
    ("severity", "Severity", "重大度"),
    ("priority", "Priority", "優先度"),
    ("title", "Title", "タイトル"),
    ("first_seen", "First seen", "初回"),
    ("last_seen", "Last seen", "最終"),
    ("count", "Count", "件数"),
    ("time", "Time", "時刻"),
    ("rule", "Rule", "ルール"),
    ("principal", "Principal", "プリンシパル"),
    ("resource", "Resource", "リソース"),
    ("account", "Account", "アカウント"),
    ("region", "Region", "リージョン"),
    ("search", "Search", "検索"),
    ("since", "Since", "開始"),
    ("until", "Until", "終了"),
    ("filter", "Filter", "絞り込み"),
    ("next_page", "Next page", "次のページ"),
    ("nothing", "Nothing here yet.", "まだ何もありません。"),
    ("raw_event", "Raw event", "元のイベント"),
    ("tags", "Tags", "タグ"),
    ("same_principal", "Other alerts of the same principal", "同じプリンシパルの他のアラート"),
    ("timeline", "Timeline", "タイムライン"),
    ("failing_checks", "Failing checks", "不合格のチェック"),
    ("newly_failed", "Newly failed since the previous scan", "前回のスキャン以降に不合格になったもの"),
    ("fixed", "Fixed since the previous scan", "前回のスキャン以降に修正されたもの"),
    ("rationale", "Rationale", "理由"),
    ("remediation", "Remediation", "修正方法"),
    ("cli_fix", "Fix with the AWS CLI", "AWS CLI での修正"),
    ("frameworks", "Frameworks", "フレームワーク"),
    ("check", "Check", "チェック"),
    ("reason", "Reason", "詳細"),
    ("no_scans", "No posture scan recorded yet: run `harrier posture scan` or enable `posture:` in serve.", "ポスチャスキャンの記録はまだありません。`harrier posture scan` を実行するか、serve で `posture:` を有効にしてください。"),
    ("repository", "Repository", "リポジトリ"),
    ("tag", "Tag", "タグ"),
    ("digest", "Digest", "ダイジェスト"),
    ("scanned", "Scanned", "スキャン日時"),
    ("malware", "Malware and tampering", "マルウェアと改ざん"),
    ("vulnerabilities", "Vulnerabilities (critical and high)", "脆弱性(緊急・重要)"),
    ("practice", "Image practice", "イメージの作り方"),
    ("fixed_in", "Fixed in", "修正バージョン"),
    ("layer", "Layer", "レイヤー"),
    ("finding", "Finding", "検出"),
    ("what", "What", "内容"),
    ("os", "Distribution", "ディストリビューション"),
    ("packages", "Packages", "パッケージ数"),
    ("download_summary", "Download the scan (JSON)", "スキャン結果をダウンロード(JSON)"),
    ("download_sbom", "Download the SBOM (CycloneDX)", "SBOM をダウンロード(CycloneDX)"),
    ("fired", "Fired", "発火回数"),
    ("file", "File", "ファイル"),
    ("description", "Description", "説明"),
    ("role", "Role", "ロール"),
    ("add_user", "Add or update a user", "ユーザーを追加・更新"),
    ("save", "Save", "保存"),
    ("saved", "Saved.", "保存しました。"),
    ("score", "Score", "スコア"),
    ("scan", "Scan", "スキャン"),
    ("status", "Status", "状態"),
    ("all", "all", "すべて"),
    ("total_alerts", "Alerts stored", "保存済みアラート"),
    ("language", "日本語", "English"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_spoken_language() {
        assert_eq!(Lang::from_accept("ja-JP,ja;q=0.9,en;q=0.8"), Lang::Ja);
        assert_eq!(Lang::from_accept("fr-FR, en;q=0.5, ja;q=0.4"), Lang::En);
        assert_eq!(Lang::from_accept("de"), Lang::En);
        assert_eq!(Lang::from_accept(""), Lang::En);
    }

    #[test]
    fn every_word_has_both_languages() {
        for (k, en, ja) in WORDS {
            assert!(!en.is_empty() && !ja.is_empty(), "{k}");
        }
        assert_eq!(Lang::Ja.t("alerts"), "アラート");
        assert_eq!(Lang::En.t("no-such-key"), "no-such-key");
    }
}
