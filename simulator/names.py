"""Tables for generated test identities: municipalities, prefectures, names, town names.

Municipality codes are the public 全国地方公共団体コード (5 digits, without the check digit).
The romaji forms follow the style seen in real JPKI certificates: `Kanagawa-ken`,
`Yokohama-shi-Naka-ku`, `Tokyo-to`, `Shibuya-ku`, `Kiyose-shi`.

The names and town names are common words and surnames; combined at random they describe
nobody in particular. Generated addresses use real municipalities but invented block numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FAMILY_NAMES",
    "GIVEN_NAMES_FEMALE",
    "GIVEN_NAMES_MALE",
    "MUNICIPALITIES",
    "PREFECTURES",
    "TOWN_NAMES",
    "Municipality",
    "municipality_by_code",
]


@dataclass(frozen=True)
class Municipality:
    code: str  # 5-digit 全国地方公共団体コード
    prefecture: str  # kanji, e.g. 神奈川県
    prefecture_romaji: str  # e.g. Kanagawa-ken
    name: str  # kanji, e.g. 横浜市中区 (without the prefecture)
    romaji: str  # e.g. Yokohama-shi-Naka-ku


MUNICIPALITIES: tuple[Municipality, ...] = (
    Municipality("01101", "北海道", "Hokkaido", "札幌市中央区", "Sapporo-shi-Chuo-ku"),
    Municipality("01217", "北海道", "Hokkaido", "江別市", "Ebetsu-shi"),
    Municipality("04101", "宮城県", "Miyagi-ken", "仙台市青葉区", "Sendai-shi-Aoba-ku"),
    Municipality("04207", "宮城県", "Miyagi-ken", "名取市", "Natori-shi"),
    Municipality("10209", "群馬県", "Gunma-ken", "藤岡市", "Fujioka-shi"),
    Municipality("12101", "千葉県", "Chiba-ken", "千葉市中央区", "Chiba-shi-Chuo-ku"),
    Municipality("13101", "東京都", "Tokyo-to", "千代田区", "Chiyoda-ku"),
    Municipality("13103", "東京都", "Tokyo-to", "港区", "Minato-ku"),
    Municipality("13104", "東京都", "Tokyo-to", "新宿区", "Shinjuku-ku"),
    Municipality("13113", "東京都", "Tokyo-to", "渋谷区", "Shibuya-ku"),
    Municipality("13115", "東京都", "Tokyo-to", "杉並区", "Suginami-ku"),
    Municipality("13201", "東京都", "Tokyo-to", "八王子市", "Hachioji-shi"),
    Municipality("13221", "東京都", "Tokyo-to", "清瀬市", "Kiyose-shi"),
    Municipality("14104", "神奈川県", "Kanagawa-ken", "横浜市中区", "Yokohama-shi-Naka-ku"),
    Municipality("14131", "神奈川県", "Kanagawa-ken", "川崎市川崎区", "Kawasaki-shi-Kawasaki-ku"),
    Municipality("22101", "静岡県", "Shizuoka-ken", "静岡市葵区", "Shizuoka-shi-Aoi-ku"),
    Municipality("23101", "愛知県", "Aichi-ken", "名古屋市千種区", "Nagoya-shi-Chikusa-ku"),
    Municipality("24201", "三重県", "Mie-ken", "津市", "Tsu-shi"),
    Municipality("26104", "京都府", "Kyoto-fu", "京都市中京区", "Kyoto-shi-Nakagyo-ku"),
    Municipality("27128", "大阪府", "Osaka-fu", "大阪市中央区", "Osaka-shi-Chuo-ku"),
    Municipality("28101", "兵庫県", "Hyogo-ken", "神戸市東灘区", "Kobe-shi-Higashinada-ku"),
    Municipality("34101", "広島県", "Hiroshima-ken", "広島市中区", "Hiroshima-shi-Naka-ku"),
    Municipality("40131", "福岡県", "Fukuoka-ken", "福岡市東区", "Fukuoka-shi-Higashi-ku"),
    Municipality("47201", "沖縄県", "Okinawa-ken", "那覇市", "Naha-shi"),
)

_BY_CODE = {m.code: m for m in MUNICIPALITIES}


def municipality_by_code(code: str) -> Municipality | None:
    """The table entry for a 5-digit municipality code, or None when it is not in the table."""
    return _BY_CODE.get(code)


#: The 47 prefectures (都道府県) in code order; an address starts with one of them.
PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
)  # fmt: skip

FAMILY_NAMES: tuple[str, ...] = (
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
    "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水",
    "山崎", "森", "池田", "橋本", "阿部", "石川", "前田", "藤田", "小川", "岡田",
)  # fmt: skip

GIVEN_NAMES_MALE: tuple[str, ...] = (
    "太郎", "一郎", "健太", "翔太", "大輝", "拓也", "誠", "蓮", "悠真", "陽翔",
    "湊", "大和", "浩二", "隆", "直樹", "和也", "修", "亮", "智也", "健一",
)  # fmt: skip

GIVEN_NAMES_FEMALE: tuple[str, ...] = (
    "花子", "陽菜", "結衣", "美咲", "さくら", "葵", "凛", "芽依", "愛", "由美",
    "恵子", "明美", "真由美", "彩", "千尋", "優子", "奈々", "麻衣", "美穂", "幸子",
)  # fmt: skip

#: Common town names (町名); combined with invented block numbers.
TOWN_NAMES: tuple[str, ...] = (
    "本町", "栄町", "緑町", "中央", "旭町", "若葉", "桜木町", "東町", "西町", "南町",
    "北町", "新町", "元町", "幸町", "宮前", "松原", "竹の内", "梅田", "泉", "青葉台",
)  # fmt: skip
