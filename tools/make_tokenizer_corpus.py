#!/usr/bin/python3
"""make_tokenizer_corpus.py - write tests/data/tokenizer_corpus.txt, the text the
tokenizer tests compare omnic with Hugging Face tokenizers on, one case per line.

Every sentence here was written for this project; the rest is generated from it with a
fixed seed, so the output is byte-for-byte reproducible (the test only reads the
committed file; rerun this after editing and commit both).

Lines are separated by "\\n" alone: a line may hold "\\r" (CRLF endings), tabs, U+2028,
U+0085, NBSP, U+3000 and other characters that other tools treat as line breaks.
Categories: Korean (news, chat, honorifics, formal writing, jamo, Hanja), English,
code (C, Python, JSON, shell, SQL, HTML), digits, emoji, whitespace, special tokens,
Japanese / Chinese, combining marks, and random mixes of all of them.

  tools/make_tokenizer_corpus.py                      # writes tests/data/tokenizer_corpus.txt
  tools/make_tokenizer_corpus.py --out F              # elsewhere
  tools/make_tokenizer_corpus.py --korean MB --out F [--seed N]  # MB megabytes of Korean prose
"""
import argparse
import os
import random
import sys

SEED = 20240315

# ---------------------------------------------------------------- Korean

KO_NEWS = [
    "서울시는 15일 시청 브리핑룸에서 기자회견을 열고 내년도 예산안을 발표했다.",
    "기상청은 이번 주말 중부지방에 최대 80mm의 비가 내릴 것으로 예보했다.",
    "정부는 물가 안정을 위해 농산물 비축 물량을 20% 늘리기로 했다고 밝혔다.",
    "한국은행 금융통화위원회는 기준금리를 연 3.50%로 동결했다.",
    "국회 본회의에서 관련 법안이 재석 287명 중 찬성 251명으로 가결됐다.",
    "부산항 컨테이너 물동량이 지난해 같은 기간보다 4.2% 증가한 것으로 나타났다.",
    "교육부는 2025학년도 대학수학능력시험을 11월 14일에 치른다고 공고했다.",
    "경찰은 사고 원인을 조사하는 한편 현장 주변 CCTV를 확보해 분석 중이다.",
    "이번 전시회에는 국내외 120여 개 기업이 참가해 신제품을 선보인다.",
    "통계청에 따르면 지난달 취업자 수는 2,850만 명으로 집계됐다.",
    "환경부는 미세먼지 비상저감조치를 수도권 전역에 발령했다.",
    "올해 상반기 수출액은 3,340억 달러로 역대 두 번째 규모를 기록했다.",
    "보건당국은 독감 예방접종을 아직 받지 않은 고령층에 접종을 당부했다.",
    "지방자치단체 10곳이 공동으로 관광 활성화 협약을 체결했다.",
    "대법원은 원심을 깨고 사건을 서울고등법원으로 돌려보냈다.",
    "신규 아파트 분양 물량이 전월 대비 절반 가까이 줄었다.",
    "프로야구 정규시즌 관중이 역대 최초로 1천만 명을 넘어섰다.",
    "과학기술정보통신부는 차세대 반도체 연구에 5년간 1조 원을 투입한다.",
    "해양경찰청은 연휴 기간 여객선 안전 점검을 강화한다고 밝혔다.",
    "한파 특보가 내려진 강원 산간 지역의 아침 기온은 영하 18도까지 떨어졌다.",
    "문화재청은 보수 공사를 마친 궁궐 전각을 다음 달부터 일반에 공개한다.",
    "국토교통부는 광역급행철도 노선 연장 계획을 확정해 고시했다.",
    "중소기업 10곳 중 7곳은 인력 부족을 가장 큰 어려움으로 꼽았다.",
    "소비자원은 일부 수입 화장품에서 기준치를 넘는 성분이 검출됐다고 발표했다.",
    "제주도는 관광객 증가에 대비해 렌터카 총량제를 1년 더 연장하기로 했다.",
]

KO_NEWS_TEMPLATES = [
    "{city}시는 {month}월 {day}일 {topic} 관련 대책을 발표하고 {num}억 원을 투입하기로 했다.",
    "{org}는 {year}년 {topic} 실적이 전년 대비 {pct}% {updown}했다고 밝혔다.",
    "{city} 지역의 {topic} 문제를 두고 주민 {num}명이 참여한 공청회가 열렸다.",
    "{org} 관계자는 \"{topic} 분야에서 {num}건의 개선 과제를 추진하겠다\"고 말했다.",
    "지난 {day}일 {city}에서 열린 {topic} 박람회에는 {num}만 명이 다녀갔다.",
    "{org}와 {org2}는 {topic} 협력을 위한 업무협약(MOU)을 맺었다.",
]
CITIES = ["서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "수원", "창원", "전주", "청주", "포항", "춘천", "여수"]
ORGS = ["정부", "한국전력", "국토교통부", "산업통상자원부", "교육청", "보건복지부", "중소벤처기업부", "한국관광공사",
        "시의회", "소방본부", "농협", "한국거래소", "금융감독원"]
TOPICS = ["교통", "주거", "일자리", "저출생", "기후변화", "관광", "반도체", "청년 창업", "디지털 전환", "에너지",
          "농업", "복지", "안전", "스마트시티", "문화예술", "수소경제"]

KO_CHAT = [
    "ㅋㅋㅋㅋㅋ 진짜? 나 지금 가는 중ㅎㅎ",
    "헐 대박;; 어떡해ㅠㅠ",
    "ㅇㅋ ㄱㄱ",
    "낼 봐~~",
    "배고파... 치킨 시킬까?",
    "ㄴㄴ 그거 아니야 ㅋㅋ",
    "아 진짜 개웃기네ㅋㅋㅋㅋ",
    "오늘 완전 피곤하다.. 일찍 잘게",
    "ㅎㅇ 뭐해?",
    "나 방금 버스 놓침 ㅡㅡ",
    "ㅠㅠㅠ 시험 망했어",
    "넹넹 알겠슴당",
    "헐랭 그게 말이 돼?!",
    "ㄹㅇ 인정",
    "주말에 영화 ㄱ? 7시 어때",
    "어제 그 드라마 봤어? 결말 미쳤음",
    "ㅋㅋ 아니 근데 왜 나한테만 그래",
    "잠깐만 5분만 기다려줘!!",
    "우와아아아 대박이다",
    "ㅁㅊ 벌써 12시야",
    "ㅇㅈ? ㅇ ㅇㅈ",
    "괜찮아~ 신경 쓰지 마 ^^",
    "아놔 비 온다는 말 없었잖아",
    "ㅋㅋㅋ큐ㅠㅠ 웃프다",
    "님 혹시 그 자료 있으심?",
    "카톡 확인 좀 해줘 ㅎㅎ",
    "냠냠 맛있다 ㅎㅎ 담에 또 오자",
    "헐… 그럼 우리 어디서 만나?",
    "ㄷㄷㄷ 무섭다",
    "음... 글쎄? 잘 모르겠는데",
]

KO_HONORIFIC = [
    "할머니께서 진지를 잡수셨습니까?",
    "교수님, 내일 연구실로 찾아뵈어도 될까요?",
    "고객님, 주문하신 상품이 오늘 발송되었습니다.",
    "사장님께서는 지금 회의 중이십니다. 잠시만 기다려 주시겠습니까?",
    "선생님, 늘 건강하시고 행복하시길 바랍니다.",
    "부모님께 안부 전해 드려라.",
    "아버님, 편히 주무셨어요?",
    "손님, 이쪽으로 앉으시면 됩니다.",
    "회장님의 말씀을 삼가 전해 올립니다.",
    "혹시 성함이 어떻게 되십니까?",
    "불편을 드려 대단히 죄송합니다.",
    "문의하신 내용은 담당 부서에서 확인 후 연락드리겠습니다.",
    "여쭤볼 것이 있어서 연락드렸습니다.",
    "말씀하신 자료를 첨부하여 보내 드립니다. 검토 부탁드립니다.",
    "귀하의 지원에 진심으로 감사드립니다.",
    "어르신, 계단 조심하세요.",
    "내일 오전 10시까지 제출해 주시기 바랍니다.",
    "저희 매장을 찾아 주셔서 감사합니다.",
    "할아버지께서는 요즘 무척 바쁘시대요.",
    "편하실 때 회신 주시면 감사하겠습니다.",
    "안녕하십니까, 여러분. 오늘 발표를 맡은 김민수입니다.",
    "앞으로도 많은 관심과 성원 부탁드립니다.",
]

KO_FORMAL = [
    "대한민국의 수도는 서울특별시이다.",
    "한국어는 주어-목적어-동사의 어순을 따르는 교착어이다.",
    "훈민정음은 1443년에 창제되어 1446년에 반포되었다.",
    "광합성은 빛 에너지를 이용하여 이산화탄소와 물로부터 포도당을 합성하는 과정이다.",
    "이 논문에서는 제안한 방법의 성능을 세 가지 데이터셋에서 평가한다.",
    "따라서 본 연구의 결과는 기존 가설을 부분적으로 지지한다고 볼 수 있다.",
    "제1장에서는 연구의 배경과 목적을 서술하고, 제2장에서는 선행 연구를 검토한다.",
    "계약 당사자는 본 계약서에 명시된 의무를 성실히 이행하여야 한다.",
    "산은 높고 물은 맑아 예로부터 많은 시인이 이곳을 노래했다.",
    "그녀는 창밖으로 떨어지는 빗방울을 한참 동안 바라보았다.",
    "봄이 오면 들판에는 이름 모를 꽃들이 앞다투어 피어난다.",
    "인공지능 모델은 대규모 말뭉치로 사전 학습한 뒤 특정 과제에 맞게 미세 조정된다.",
    "밥을 먹었다. 먹었습니다. 먹었어요. 먹었니? 먹었냐? 먹었소.",
    "가겠다, 가겠습니다, 가겠어요, 가리라, 가노라, 가더라, 가던데.",
    "읽다 읽어 읽으니 읽는 읽은 읽을 읽기 읽혀 읽히다",
    "닭 값 넋 앉다 없다 흙 삶 젊다 밟다 곬 훑다",
    "똑똑 쌍쌍 쩝쩝 뽀뽀 씩씩 짹짹 꿈틀꿈틀 뒹굴뒹굴",
    "웬일이니 왠지 됐다 돼요 봬요 뵈어요 쐬다 괜찮아",
    "늙은 나무 아래에서 젊은이들이 옛이야기를 나누었다.",
    "희망은 날개 달린 것, 영혼에 내려앉아 말없는 노래를 부른다.",
]

KO_HANJA = [
    "大韓民國은 民主共和國이다.",
    "第1條 ① 大韓民國의 主權은 國民에게 있다.",
    "漢字語 학습: 學校(학교), 先生(선생), 生活(생활), 文化(문화)",
    "金氏는 釜山 出身으로 서울大學校를 卒業했다.",
    "溫故知新이라는 말처럼 옛것을 익혀 새것을 안다.",
    "株式會社 韓國電力 2024年 事業報告書",
    "百聞이 不如一見이라 했다.",
    "이 建物은 朝鮮 後期에 建立되었다.",
    "訓民正音 序文: 國之語音이 異乎中國하야",
    "春夏秋冬 四季節이 뚜렷한 韓半島",
    "三國時代의 高句麗, 百濟, 新羅",
    "一石二鳥 效果를 노린 政策",
]

JAMO_LINES = [
    "ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎ",
    "ㅏㅑㅓㅕㅗㅛㅜㅠㅡㅣㅐㅒㅔㅖㅘㅙㅚㅝㅞㅟㅢ",
    "ㄲㄸㅃㅆㅉ ㄳㄵㄶㄺㄻㄼㄽㄾㄿㅀㅄ",
    "ㅋㅋ ㅎㅎ ㅠㅠ ㅜㅜ ㄷㄷ ㅂㅂ ㅅㄱ ㄳ",
    "ㆍㆎㅿㆆㅸ 옛 자모",
    "\u3164 채움 문자 \u3164\u3164",
    "\uffa1\uffa4\uffa7\uffc2\uffc3 반각 자모",
    "㈀㈁㈂ ㉠㉡㉢ ㉮㉯㉰ ㈜ ㉾",
    "\u1112\u1161\u11ab\u1100\u1173\u11af 조합형 한글",
    "\u1100\u1161 \u1102\u1161 \u1103\u1161\u11a8 \u110b\u1175\u11bc",
    "\u115f\u1160 빈 초성 빈 중성",
    "\u1113\u1194\u11c3 옛한글 조합",
    "가\u11a8 각 (가 + 받침 ㄱ)",
]

KO_WORDS = ("나 너 우리 저희 그 이 저 사람 시간 오늘 내일 어제 학교 회사 집 밥 물 책 음악 영화 친구 가족 날씨 "
            "하늘 바다 도시 나라 세계 문제 생각 마음 이야기 일 사랑 공부 여행 커피 주말 아침 저녁 "
            "컴퓨터 휴대폰 인터넷 데이터 모델 서버 프로그램 코드 질문 답변 "
            "선생님 학생 동생 언니 형 누나 오빠 할머니 할아버지 아버지 어머니 아이 어른 손님 직원 사장님 의사 간호사 "
            "경찰 기자 작가 가수 배우 선수 농부 요리사 이웃 동료 팀장 고객 시민 주민 관객 "
            "길 산 강 숲 공원 시장 병원 은행 식당 카페 도서관 박물관 정류장 지하철 버스 기차 비행기 자동차 자전거 "
            "거리 골목 마을 시골 항구 섬 호수 들판 운동장 교실 사무실 회의실 부엌 거실 방 창문 문 계단 지붕 "
            "봄 여름 가을 겨울 비 눈 바람 구름 햇살 별 달 꽃 나무 풀 잎 열매 씨앗 돌 모래 흙 "
            "사과 배 포도 딸기 수박 김치 된장찌개 비빔밥 불고기 떡볶이 라면 국수 빵 우유 주스 차 술 과자 반찬 "
            "옷 신발 모자 가방 안경 시계 우산 지갑 열쇠 선물 편지 사진 그림 노래 춤 영상 게임 소설 신문 잡지 "
            "돈 가격 월급 세금 예산 시장경제 회사원 계약 회의 보고서 발표 계획 목표 결과 성과 실수 기회 경험 "
            "건강 운동 산책 잠 꿈 기억 추억 습관 취미 관심 걱정 고민 행복 기쁨 슬픔 화 용기 희망 약속 비밀 "
            "언어 단어 문장 글자 한글 숫자 역사 문화 전통 예술 과학 기술 수학 철학 경제 정치 사회 환경 에너지 "
            "인공지능 알고리즘 소프트웨어 네트워크 보안 화면 버튼 파일 폴더 메시지 알림 계정 비밀번호 검색 "
            "아침밥 점심 저녁밥 간식 휴가 명절 생일 결혼식 졸업식 시험 숙제 방학 수업 강의 연구 실험 논문").split()
KO_ADVERBS = ("정말 아주 너무 조금 많이 빨리 천천히 자주 가끔 항상 벌써 아직 이미 다시 함께 혼자 먼저 나중에 "
              "갑자기 드디어 결국 오래 잠깐 꼭 절대 거의 매우 특히 바로 곧 어서 열심히 조용히 환하게").split()
# verb / adjective stems (regular conjugation only); 하 stems are nouns + 하
KO_STEMS = ("먹 읽 잡 받 찾 입 씻 웃 믿 닫 앉 남 감 신 맡 갚 잊 참 살피 "
            "가 오 보 주 서 자 사 타 켜 배우 만나 기다리 보내 마시 가르치 그리 지나 바꾸 나누 끝내 세우 "
            "되 쉬 외우 키우 지키 버리 던지 모으 쓰 끄 크 바쁘 예쁘 "
            "좋 많 작 높 깊 넓 밝 맑 같 괜찮 "
            "공부하 운동하 준비하 시작하 발표하 사용하 생각하 이야기하 요리하 청소하 정리하 연습하 확인하 "
            "필요하 중요하 조용하 깨끗하 따뜻하 행복하 피곤하 궁금하 심심하 유명하").split()
ADJ = set("좋 많 작 높 깊 넓 밝 맑 같 괜찮 크 바쁘 예쁘 필요하 중요하 조용하 깨끗하 따뜻하 행복하 피곤하 궁금하 심심하 "
          "유명하".split())


def _jamo(ch):
    c = ord(ch) - 0xAC00
    return c // 588, (c % 588) // 28, c % 28


def _syl(l, v, t):
    return chr(0xAC00 + (l * 21 + v) * 28 + t)


def _final(word):
    c = ord(word[-1]) - 0xAC00
    return (c % 28) if 0 <= c < 11172 else 0


def _add_final(stem, t):  # stem ends in an open syllable
    l, v, _ = _jamo(stem[-1])
    return stem[:-1] + _syl(l, v, t)


def _inf(stem):
    """the -아/-어 form: 먹어, 잡아, 가, 봐, 줘, 마셔, 해, 써, 돼"""
    if stem.endswith("하"):
        return stem[:-1] + "해"
    l, v, t = _jamo(stem[-1])
    if t:
        return stem + ("아" if v in (0, 8) else "어")
    merged = {0: 0, 4: 4, 1: 1, 5: 5, 6: 6, 8: 9, 13: 14, 20: 6, 18: 4, 11: 10}
    if v == 18 and len(stem) > 1 and _jamo(stem[-2])[1] in (0, 8):  # 바쁘 -> 바빠
        return stem[:-1] + _syl(l, 0, 0)
    if l == 11 and v == 20:  # 이 -> 여 is not used here; ㅣ after ㅇ stays regular
        return stem[:-1] + _syl(l, 6, 0)
    return stem[:-1] + _syl(l, merged.get(v, v), 0) if v in merged else stem + "어"


def conjugate(stem, rng):
    t = _final(stem)
    inf = _inf(stem)
    past = _add_final(inf, 20)
    adj = stem in ADJ
    forms = [
        inf + "요", past + "어요", past + "다", past + "습니다", stem + "고", stem + "지만", stem + "겠습니다",
        stem + "겠어요", (stem + "습니다") if t else _add_final(stem, 17) + "니다",
        (stem + "습니까?") if t else _add_final(stem, 17) + "니까?",
        (stem + "으세요") if t else stem + "세요", (stem + "으면") if t else stem + "면",
        (stem + "으니까") if t else stem + "니까", inf + "서", stem + "기 때문에", inf + "도 돼요",
        past + "는데", stem + "지 않아요", inf,
    ]
    if adj:
        forms += [stem + "다", (stem + "은") if t else _add_final(stem, 4), inf + "지다"]
    else:
        forms += [(stem + "는다") if t else _add_final(stem, 4) + "다", stem + "는", stem + "고 싶어요",
                  ((stem + "을") if t else _add_final(stem, 8)) + " 수 있어요", inf + " 주세요", stem + "는 중이에요"]
    return rng.choice(forms)


# (after a final consonant, after a vowel); 로 also follows a final ㄹ
KO_PARTICLES = [("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"), ("에", "에"), ("에서", "에서"),
                ("도", "도"), ("만", "만"), ("의", "의"), ("한테", "한테"), ("부터", "부터"), ("까지", "까지"),
                ("처럼", "처럼"), ("보다", "보다"), ("이랑", "랑"), ("께서", "께서"), ("에게", "에게"), ("", "")]


def with_particle(word, pair):
    final = _final(word)
    if pair[0] == "으로" and final == 8:  # ㄹ
        return word + "로"
    return word + (pair[0] if final else pair[1])


def ko_clause(rng):
    words = [with_particle(rng.choice(KO_WORDS), rng.choice(KO_PARTICLES)) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), rng.choice(KO_ADVERBS))
    return " ".join(words) + " " + conjugate(rng.choice(KO_STEMS), rng)


def ko_sentence(rng):
    s = ko_clause(rng)
    if rng.random() < 0.3:
        s += rng.choice([", ", " ", "... "]) + ko_clause(rng)
    if s.endswith("?"):
        return s
    return s + rng.choice([".", ".", ".", "!", "?", "...", "~", ""])


def random_syllables(rng, n):
    return "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(n))


def ko_news_generated(rng):
    t = rng.choice(KO_NEWS_TEMPLATES)
    orgs = rng.sample(ORGS, 2)
    return t.format(city=rng.choice(CITIES), month=rng.randint(1, 12), day=rng.randint(1, 31),
                    topic=rng.choice(TOPICS), num=rng.choice([3, 12, 150, 1200, 45, 7]), year=rng.randint(2015, 2030),
                    pct=rng.choice(["3.4", "12", "0.8", "27.5", "100"]), updown=rng.choice(["증가", "감소", "상승", "하락"]),
                    org=orgs[0], org2=orgs[1])


# ---------------------------------------------------------------- English

EN = [
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they're fine; we've seen it before, don't worry.",
    "SHE'S HERE. YOU'LL SEE. We'D better go. It'S late.",
    "Breaking: markets rallied on Tuesday after the central bank held rates steady.",
    "lol that's wild, brb",
    "Can you send me the slides before 3pm? Thanks!",
    "The committee's report (published in March) runs to 312 pages.",
    "e.g. i.e. etc. vs. Mr. Dr. U.S.A. a.m. p.m.",
    "Hyphenated well-known state-of-the-art long-term co-operation",
    "\u201cSmart quotes\u201d and \u2018single ones\u2019 \u2014 plus an em dash\u2026 and an en dash \u2013 too.",
    "Visit https://example.com/path/to/page?query=1&lang=ko#section or email someone@example.org.",
    "#hashtag @mention $TICKER 100% r/subreddit",
    "ALL CAPS SENTENCE WITH NUMBERS 123 AND SYMBOLS !@#",
    "camelCaseIdentifier PascalCase snake_case kebab-case SCREAMING_SNAKE",
    "Once upon a time, in a land far away, there lived a curious little robot.",
    "To be, or not to be, that is the question.",
    "Please find attached the quarterly figures; let me know if anything's unclear.",
    "He said, \"It's not my fault!\" and left.",
    "Q: What's 2 + 2? A: It's 4.",
    "Wait... what?! No way!!!",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "naïve café résumé coöperate façade jalapeño",
    "The year's best-seller isn't what you'd expect.",
    "Rock 'n' roll, ma'am, y'all, o'clock, 'tis",
    "Don't DON'T don't Don'T dOn't",
    "Temperature: -3°C (26.6°F); humidity 45%; wind 12 km/h NW.",
    "Step 1) open the lid; step 2) pour; step 3) enjoy.",
    "TL;DR: it works, mostly.",
    "Good morning! How are you doing today?",
]

EN_WORDS = ("the a of and to in is it that for on with as was at by from this be are or have not but an they "
            "which one you all were her she there would their we him been has when who will more no if out so said "
            "what up its about into than them can only other new some could time these two may first then do any "
            "like my now over such our man me even most made after also did many before must through back years "
            "where much your way well down should because each just those people how too little state good very "
            "make world still own see men work long get here between both life being under never day same another "
            "know while last might us great old year off come since against go came right used take three").split()


def en_sentence(rng):
    n = rng.randint(4, 14)
    ws = [rng.choice(EN_WORDS) for _ in range(n)]
    if rng.random() < 0.5:
        ws[0] = ws[0].capitalize()
    if rng.random() < 0.2:
        i = rng.randrange(n)
        ws[i] = ws[i].upper()
    if rng.random() < 0.3:
        i = rng.randrange(n)
        ws[i] += rng.choice(["'s", "'re", "'ll", "'ve", "'d", "'m", "'t", "n't"])
    return " ".join(ws) + rng.choice([".", ",", "!", "?", ";", ":", "", "..."])


# ---------------------------------------------------------------- code

CODE_C = [
    "#include <stdio.h>",
    "#include \"tokenizer_impl.h\"",
    "int main(int argc, char **argv) {",
    "    for (int i = 0; i < argc; i++) printf(\"%s\\n\", argv[i]);",
    "    return 0;",
    "}",
    "static inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }",
    "\tif (!p) return -ENOMEM;",
    "\t\tbuf[len++] = (char)c;",
    "typedef struct { float *data; size_t n; } vec_t;",
    "#define MAX(a, b) ((a) > (b) ? (a) : (b))",
    "/* multi-line comment start",
    " * continues here */",
    "// TODO(someone): handle the error path",
    "x->next = NULL; y = &x->value; z = *ptr++;",
    "while (n-- > 0) { *dst++ = *src++; }",
    "switch (kind) { case 0: break; default: abort(); }",
    "uint8_t mask = 0xFF; int64_t big = -9223372036854775807LL;",
    "const char *msg = \"\\t\\x41\\u00e9\\\\\";",
    "#if defined(__AVX512F__) && !defined(NO_SIMD)",
    "a <<= 2; b >>= 3; c ^= d; e |= f; g &= ~h; i %= j;",
    "fprintf(stderr, \"error: %s:%d: %s\\n\", __FILE__, __LINE__, strerror(errno));",
]

CODE_PY = [
    "def encode(self, text: str) -> list[int]:",
    "    return [self.vocab[t] for t in self.split(text)]",
    "import numpy as np",
    "from collections import defaultdict, Counter",
    "class Tokenizer(object):",
    "    \"\"\"A tiny tokenizer.\"\"\"",
    "        self.cache = {}  # piece -> ids",
    "if __name__ == '__main__':",
    "    main()",
    "x = [i ** 2 for i in range(10) if i % 2 == 0]",
    "print(f\"{name!r} has {len(items):,} items ({ratio:.2%})\")",
    "lambda x, *args, **kwargs: (x, args, kwargs)",
    "with open(path, 'rb') as f:",
    "\tdata = f.read()",
    "async def fetch(session, url):",
    "    async with session.get(url) as resp:",
    "        return await resp.json()",
    "@dataclass(frozen=True)",
    "try:\n",
    "except (KeyError, ValueError) as e:",
    "    raise RuntimeError('bad input') from e",
    "assert a == b, f'{a} != {b}'",
    "matrix = np.zeros((3, 4), dtype=np.float32) @ np.ones((4, 2))",
    "s = '한국어 문자열'; b = s.encode('utf-8'); print(len(b))",
    "    # 주석: 한국어 주석도 있습니다",
    "yield from (k for k, v in d.items() if v is not None)",
]

CODE_JSON = [
    "{\"name\": \"omnic\", \"version\": \"0.1.0\", \"private\": true}",
    "{\"key\": [1, 2.5, -3e-4, \"값\", null, false]}",
    "  \"messages\": [{\"role\": \"user\", \"content\": \"안녕하세요\"}],",
    "{\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"서울\\\"}\"}}]}",
    "[]",
    "{}",
    "{\"nested\": {\"deep\": {\"deeper\": {\"deepest\": [[[]]]}}}}",
    "    \"escape\": \"line\\nbreak \\\"quoted\\\" \\u00e9 \\ud83d\\ude00\",",
    "{\"a\":1,\"b\":2,\"c\":3}",
    "  \"temperature\": 0.7, \"top_p\": 0.95, \"max_tokens\": 1024",
]

CODE_SH = [
    "#!/usr/bin/env bash",
    "set -euo pipefail",
    "for f in *.txt; do wc -l \"$f\"; done",
    "export PATH=\"$HOME/.local/bin:$PATH\"",
    "grep -rn 'TODO' src/ | awk -F: '{print $1}' | sort | uniq -c",
    "make -j$(nproc) && ./build/omnic run -m models/hcx --temp 0 -p \"안녕\"",
    "if [ -z \"${VAR:-}\" ]; then echo 'unset' >&2; exit 1; fi",
    "curl -s -X POST localhost:8080/v1/chat/completions -H 'Content-Type: application/json' -d @req.json",
    "tar -czf backup-$(date +%Y%m%d).tar.gz ~/docs 2>/dev/null || true",
    "echo $((1 + 2 * 3)) ; ls -la | head -n 5",
    "sudo apt-get install -y libpcre2-dev libjansson-dev",
    "find . -name '*.c' -exec clang-format -i {} +",
    "cat <<'EOF' > config.yaml",
    "git log --oneline --graph --decorate | head",
    "    sed -i 's/foo/bar/g' file.txt",
]

CODE_OTHER = [
    "SELECT id, name FROM users WHERE age >= 20 AND city = '서울' ORDER BY id DESC LIMIT 10;",
    "<div class=\"card\"><p>안녕하세요 &amp; welcome</p><br/></div>",
    "<!DOCTYPE html><html lang=\"ko\"><head><meta charset=\"utf-8\"></head></html>",
    "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@[a-z0-9.-]+\\.[a-z]{2,}$",
    "fn main() { let v: Vec<u8> = vec![1, 2, 3]; println!(\"{:?}\", v); }",
    "const add = (a, b) => a + b; console.log(`sum: ${add(1, 2)}`);",
    "public static void main(String[] args) { System.out.println(\"Hi\"); }",
    "key: value\nlist:\n  - item",
    "| col1 | col2 |\n|------|------|",
    "$$ \\sum_{i=1}^{n} x_i^2 = \\frac{a}{b} $$",
    "--- a/file.c\n+++ b/file.c\n@@ -1,3 +1,4 @@",
    "\\documentclass{article} \\begin{document} 안녕 \\end{document}",
]

# ---------------------------------------------------------------- digits


def digits_line(rng):
    k = rng.randrange(24)
    r = rng.randint
    if k == 0:
        return f"010-{r(1000, 9999)}-{r(1000, 9999)}"
    if k == 1:
        return f"+82 {r(2, 64)}-{r(100, 9999)}-{r(1000, 9999)}, 전화 02){r(100, 999)}-{r(1000, 9999)}"
    if k == 2:
        return f"{r(1990, 2035)}-{r(1, 12):02d}-{r(1, 28):02d} {r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d}"
    if k == 3:
        return f"{r(1990, 2035)}년 {r(1, 12)}월 {r(1, 31)}일 ({rng.choice('월화수목금토일')}) 오후 {r(1, 12)}시 {r(0, 59)}분"
    if k == 4:
        return f" {r(0, 9)}"
    if k == 5:
        return f"{r(0, 99)}.{r(0, 9)} {r(0, 9)}.0 .{r(0, 999)} {r(0, 9)}. 0.{r(0, 99999):05d}"
    if k == 6:
        return f"{r(1, 999):,} {r(1000, 999999):,} {r(10 ** 6, 10 ** 10):,}원"
    if k == 7:
        return f"₩{r(1, 999)},{r(0, 999):03d} ${r(0, 999)}.{r(0, 99):02d} €{r(1, 99)},{r(0, 99):02d} ¥{r(100, 99999)}"
    if k == 8:
        return f"{r(0, 100)}% {r(0, 100)}.{r(0, 9)}% -{r(1, 50)}%p"
    if k == 9:
        return f"{r(1, 9)}.{r(0, 99)}e-{r(1, 30)} {r(1, 9)}E+{r(1, 30)} 0x{r(0, 2 ** 32):08X} 0b{r(0, 255):b}"
    if k == 10:
        return f"v{r(0, 9)}.{r(0, 20)}.{r(0, 99)} {r(1, 255)}.{r(0, 255)}.{r(0, 255)}.{r(0, 255)}:{r(1, 65535)}"
    if k == 11:
        return "".join(str(rng.randrange(10)) for _ in range(r(10, 60)))
    if k == 12:
        return f"{r(3, 9)}천{r(1, 9)}백만 원, {r(1, 99)}억 {r(1, 9999)}만 명, 제{r(1, 300)}조 제{r(1, 9)}항"
    if k == 13:
        return "".join(chr(0xFF10 + int(c)) for c in str(r(0, 10 ** 8))) + " 전각 숫자"
    if k == 14:
        return "x² + y³ = z⁴ ½ ¼ ¾ ⅓ Ⅰ Ⅱ Ⅻ ① ② ⑳ ⑴ ⒈ " + str(r(0, 9))
    if k == 15:
        return "٠١٢٣٤٥٦٧٨٩ ०१२३४५६७८९ ০১২৩ ๐๑๒๓ 〇一二三 " + str(r(0, 99))
    if k == 16:
        return f"{r(1, 12)}/{r(1, 31)}/{r(2000, 2030)} {r(1, 31)}.{r(1, 12)}.{r(2000, 2030)}. {r(0, 23)}h{r(0, 59):02d}"
    if k == 17:
        return f"-{r(1, 999)} +{r(1, 999)} ({r(1, 99)}) [{r(1, 9)}] {r(1, 99)}x{r(1, 99)} {r(1, 9)}:{r(1, 9)}"
    if k == 18:
        return f"ISBN 978-{r(0, 9)}-{r(100, 999)}-{r(10000, 99999)}-{r(0, 9)}, 주민번호 ******-*******"
    if k == 19:
        return f"{r(1, 99)}km {r(1, 999)}kg {r(1, 99)}ml {r(1, 40)}°C {r(1, 9)}GB {r(1, 999)}MHz {r(1, 9)}㎡ {r(1, 9)}㎏"
    if k == 20:
        return "  ".join(str(r(0, 9)) for _ in range(r(2, 8)))
    if k == 21:
        return f"{r(1, 9)} {r(10, 99)} {r(100, 999)} {r(1000, 9999)} {r(10000, 99999)} {r(100000, 999999)}"
    if k == 22:
        return f"{r(1, 99)}개 {r(1, 99)}명 {r(1, 99)}번째 {r(1, 99)}살 {r(1, 99)}cm {r(1, 99)}시간"
    return f"1st 2nd 3rd {r(4, 99)}th #{r(1, 999)} No.{r(1, 99)} {r(1, 9)}/{r(2, 9)}"


# ---------------------------------------------------------------- emoji

EMOJI = list("😀😃😄😁😆😅😂🤣😊😇🙂🙃😉😌😍🥰😘😗😙😚😋😛😝😜🤪🤨🧐🤓😎🥳😏😒😞😔😟😕🙁😣😖😫😩🥺😢😭😤😠😡🤬🤯😳"
             "🥵🥶😱😨😰😥😓🤗🤔🤭🤫🤥😶😐😑😬🙄😯😦😧😮😲🥱😴🤤😪😵🤐🥴🤢🤮🤧😷🤒🤕🤑🤠😈👿👹👺🤡💩👻💀☠👽👾🤖🎃"
             "👍👎👊✊🤛🤜🤞✌🤟🤘👌🤏👈👉👆👇☝✋🤚🖐🖖👋🤙💪🙏❤🧡💛💚💙💜🖤🤍🤎💔💯💢💥💫💦💨🕳💬🔥⭐🌟✨⚡☀🌙🌈☔"
             "🍎🍕🍔🍟🌭🍿🧂🥓🍳🍜🍣🍱🍙🍚🍘🍥🥟🍡🍧🍨🍦🥧🧁🍰🎂🍮🍭🍬🍫☕🍵🍶🍺🍻🥂🍷🥃🍸🍹🧃🧉🧊🚗🚕🚙🚌✈🚀🛸⚽🏀🎮🎵🎶📱💻")
SKIN = ["\U0001F3FB", "\U0001F3FC", "\U0001F3FD", "\U0001F3FE", "\U0001F3FF"]
ZWJ = "\u200d"
ZWJ_SEQS = [
    "👨" + ZWJ + "👩" + ZWJ + "👧" + ZWJ + "👦",
    "👩" + ZWJ + "💻",
    "🧑🏽" + ZWJ + "🚀",
    "🏳\ufe0f" + ZWJ + "🌈",
    "👁\ufe0f" + ZWJ + "🗨\ufe0f",
    "❤\ufe0f" + ZWJ + "🔥",
    "👩🏻" + ZWJ + "❤\ufe0f" + ZWJ + "💋" + ZWJ + "👨🏿",
    "🐕" + ZWJ + "🦺",
    "🧔🏾" + ZWJ + "♂\ufe0f",
    "🏃🏼" + ZWJ + "♀\ufe0f" + ZWJ + "➡\ufe0f",
]


def flag(cc):
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in cc)


FLAGS = [flag(c) for c in ("KR", "JP", "US", "CN", "FR", "DE", "GB", "BR", "IN", "CA", "VN", "TH")]
TAG_FLAG = "🏴" + "".join(chr(0xE0000 + ord(c)) for c in "gbsct") + "\U000E007F"
KEYCAPS = [c + "\ufe0f\u20e3" for c in "#*0123456789"]


def emoji_line(rng):
    k = rng.randrange(8)
    if k == 0:
        return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 12)))
    if k == 1:
        return " ".join(rng.choice("👍👋🙏💪👌✋🤙") + rng.choice(SKIN) for _ in range(rng.randint(1, 6)))
    if k == 2:
        return " ".join(rng.sample(ZWJ_SEQS, rng.randint(1, 4)))
    if k == 3:
        return "".join(rng.sample(FLAGS, rng.randint(1, 5))) + " " + TAG_FLAG
    if k == 4:
        return " ".join(rng.sample(KEYCAPS, 3)) + " ☺\ufe0f ☺\ufe0e ✈\ufe0f ♥"
    if k == 5:
        return ko_sentence(rng) + " " + "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    if k == 6:
        return en_sentence(rng) + rng.choice(EMOJI) + rng.choice(SKIN)
    return rng.choice(EMOJI) * rng.randint(2, 9)


# ---------------------------------------------------------------- whitespace

WS_CHARS = [" ", "  ", "   ", "\t", "\t\t", " \t ", "\u3000", "\u00a0", "\u2009", "\u200b", "\ufeff", "\u2028",
            "\u0085", "\x0b", "\x0c", "\u202f", "\u205f", "\u1680", "\u2002\u2003", "\r"]


def ws_line(rng):
    k = rng.randrange(10)
    s = rng.choice([ko_sentence, en_sentence])(rng)
    if k == 0:
        return s + " " * rng.randint(1, 6)
    if k == 1:
        return " " * rng.randint(1, 8) + s
    if k == 2:
        return "\t" * rng.randint(1, 4) + s + "\t"
    if k == 3:
        return s.replace(" ", rng.choice(WS_CHARS))
    if k == 4:
        return rng.choice(WS_CHARS) * rng.randint(1, 10)
    if k == 5:
        return s + "\r"  # CRLF line ending
    if k == 6:
        return " ".join(w + " " * rng.randint(0, 4) for w in s.split(" "))
    if k == 7:
        return "\u3000" + s.replace(" ", "\u3000") + "\u3000\u3000"
    if k == 8:
        return s.replace(" ", "\u00a0", 2) + "\u00a0"
    return "".join(rng.choice(WS_CHARS) for _ in range(rng.randint(1, 6))) + s + \
        "".join(rng.choice(WS_CHARS) for _ in range(rng.randint(1, 6)))


WS_FIXED = ["", " ", "  ", "\t", "\r", " \r", "\t\r", "     \t     ", "\u3000", "\u00a0\u00a0", "a  b   c    d",
            "end with spaces   ", "end with tab\t", "\u3000전각\u3000공백\u3000", "NBSP\u00a0between\u00a0words",
            "x\u2028y\u2029z", "a\u0085b", "\x0b\x0c vertical tab form feed", "zero\u200bwidth\u200bspace",
            "\ufeffBOM at start", "mid\ufeffBOM", "  \r", "\r\r\r", "  leading two", "\t\tif (x) {\r"]

# ---------------------------------------------------------------- special tokens

SPECIAL = [
    "<|im_start|>system\r",
    "<|im_start|>user 안녕하세요<|im_end|>",
    "<|im_start|>assistant <think>생각 중...</think> 답변입니다.<|im_end|>",
    "<|endoftext|>",
    "<|endoftext|><|endoftext|><|endoftext|>",
    "text<|endoftext|>more text",
    "<think>\\n사용자가 날씨를 묻고 있다.\\n</think>\\n\\n오늘 서울은 맑습니다.",
    "<think></think>",
    "</think>",
    "  <|im_start|>  spaces around  <|im_end|>  ",
    "<|fim_prefix|>def f(x):<|fim_suffix|>    return y<|fim_middle|>",
    "<|im_start|>tool\r",
    "<tool_call>{\"name\": \"search\", \"arguments\": {\"q\": \"서울 맛집\"}}</tool_call>",
    "<tool_call>get_weather<arg_key>city</arg_key><arg_value>부산</arg_value></tool_call>",
    "<|stop|> <|endofturn|> <|endofprompt|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>hi<|eot_id|>",
    "<|im_start <|im_end| < |im_start|> <|IM_START|> <think <think >",
    "<|im_start|><|im_end|><|im_start|><|im_end|>",
    "<NAME> <EMAIL> <KEY> <PASSWORD>",
    "<repo_name>omnic<file_sep>src/main.c<issue_start>bug<issue_comment>fixed<issue_closed>",
    "<|vision_start|><|image_pad|><|vision_end|> 이 그림을 설명해 줘",
    "<|_unuse_missing_100256|>",
    "Hello<|im_end|>\r",
    "<<|endoftext|>>",
    "<|<|im_start|>|>",
    "<jupyter_start><jupyter_code>print(1)<jupyter_output>1",
]

# ---------------------------------------------------------------- CJK

JA = [
    "今日はいい天気ですね。散歩に行きましょう。",
    "東京タワーは東京都港区にある電波塔です。",
    "すみません、駅はどこですか？",
    "ひらがな、カタカナ、そして漢字を組み合わせて書きます。",
    "ありがとうございます！またよろしくお願いします。",
    "吾輩は猫のようなロボットである。名前はまだない。",
    "ｶﾀｶﾅ 半角カナ ｺﾝﾆﾁﾊ",
    "コーヒーを一杯ください。ミルクは要りません。",
    "新幹線で大阪まで二時間半かかります。",
    "「こんにちは」と彼女は言った。",
    "ー・ヽヾゝゞ〃々〆〇",
]

ZH = [
    "你好，世界！我爱编程。",
    "今天天气很好，我们去公园散步吧。",
    "人工智能正在改变我们的生活方式。",
    "这个问题的答案是四十二。",
    "他说：「明天见。」",
    "北京是中华人民共和国的首都。",
    "繁體中文與简体中文並存。",
    "请问洗手间在哪里？",
    "学而时习之，不亦说乎？",
    "价格：人民币１２８元（含税）",
]

# ---------------------------------------------------------------- combining marks

COMBINING = [
    "e\u0301 cafe\u0301 caf\u00e9 re\u0301sume\u0301",
    "n\u0303 an\u0303o man\u0303ana",
    "a\u0301\u0302\u0323 o\u0308\u0304 u\u031b\u0309",
    "Tiếng Việt: Tie\u0302\u0301ng Vie\u0323\u0302t",
    "नमस्ते दुनिया, हिन्दी भाषा",
    "สวัสดีครับ ภาษาไทย",
    "مرحبا بالعالم، اللغة العربية",
    "שָׁלוֹם עוֹלָם",
    "Z\u0351\u0345a\u0360\u0359l\u0358g\u0361o\u035c text",
    "\u0301\u0302 combining at start",
    "가\u0301 한\u0308글 위에 결합 문자",
    "x\u20dd circled x, 5\u20e3 keycap without VS",
    "\u00c5ngstr\u00f6m A\u030angstro\u0308m \u212bngstr\u00f6m",
    "ﬁ ﬂ ﬀ ligatures and Ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
    "ǅ ǈ ǋ titlecase digraphs; ß ẞ; İ ı",
    "Ελληνικά: Καλημέρα κόσμε; ά α\u0301",
    "Русский язык: Привет, мир! й и\u0306",
    "ქართული ენა, Հայերեն, አማርኛ",
    "\u0915\u094d\u0937 \u0924\u094d\u0930 \u091c\u094d\u091e conjuncts",
    "\u1e9b\u0323 \u0071\u0307\u0323 \u1e0b\u0323",
]


# ---------------------------------------------------------------- assembling

def mixed_line(rng):
    parts = []
    for _ in range(rng.randint(2, 5)):
        k = rng.randrange(12)
        if k == 0:
            parts.append(ko_sentence(rng))
        elif k == 1:
            parts.append(en_sentence(rng))
        elif k == 2:
            parts.append(digits_line(rng))
        elif k == 3:
            parts.append(emoji_line(rng))
        elif k == 4:
            parts.append(rng.choice(SPECIAL))
        elif k == 5:
            parts.append(rng.choice(JA + ZH))
        elif k == 6:
            parts.append(rng.choice(CODE_C + CODE_PY + CODE_JSON + CODE_SH).replace("\n", " "))
        elif k == 7:
            parts.append(rng.choice(COMBINING))
        elif k == 8:
            parts.append(random_syllables(rng, rng.randint(1, 8)))
        elif k == 9:
            parts.append(rng.choice(KO_CHAT + KO_HONORIFIC + KO_HANJA))
        elif k == 10:
            parts.append(rng.choice(JAMO_LINES))
        else:
            parts.append(rng.choice(EN))
    line = ""
    for p in parts:
        line += p if not line else rng.choice([" ", "", "  ", "\t", ", ", " - ", "\u3000", "\u00a0"]) + p
    return line.replace("\n", " ")


def corpus_lines():
    rng = random.Random(SEED)
    fixed = (KO_NEWS + KO_CHAT + KO_HONORIFIC + KO_FORMAL + KO_HANJA + JAMO_LINES + EN + CODE_C + CODE_PY +
             CODE_JSON + CODE_SH + CODE_OTHER + WS_FIXED + SPECIAL + JA + ZH + COMBINING + FLAGS + ZWJ_SEQS + KEYCAPS)
    lines = []
    for s in fixed:  # multi-line snippets become several lines
        lines.extend(s.split("\n"))
    gen = [(ko_news_generated, 120), (ko_sentence, 250), (en_sentence, 150), (digits_line, 220), (emoji_line, 150),
           (ws_line, 200), (mixed_line, 500)]
    for fn, n in gen:
        lines.extend(fn(rng) for _ in range(n))
    for _ in range(60):
        lines.append(random_syllables(rng, rng.randint(1, 20)))
    for _ in range(40):  # a Korean sentence with Hanja and a number
        lines.append(ko_sentence(rng) + " " + rng.choice(KO_HANJA) + " " + digits_line(rng))
    for _ in range(60):  # code with Korean string literals / comments and CRLF endings
        c = rng.choice(CODE_C + CODE_PY + CODE_SH).split("\n")[0]
        lines.append(c + rng.choice(["  # " + ko_sentence(rng), " // " + ko_sentence(rng), "\r", "", "    "]))
    for _ in range(40):  # long lines
        lines.append(" ".join(mixed_line(rng) for _ in range(rng.randint(4, 10))))
    out = []
    for ln in lines:
        assert "\n" not in ln
        out.append(ln)
    rng.shuffle(out)
    return out


def korean_prose(rng, nbytes):
    """Korean paragraphs (news, chat, honorific, formal, generated) of about nbytes bytes."""
    chunks, size = [], 0
    pools = [KO_NEWS, KO_CHAT, KO_HONORIFIC, KO_FORMAL]
    while size < nbytes:
        k = rng.randrange(10)
        if k < 3:
            s = ko_news_generated(rng)
        elif k < 7:
            s = ko_sentence(rng)
        else:
            s = rng.choice(rng.choice(pools))
        s += "\n" if rng.random() < 0.15 else " "
        chunks.append(s)
        size += len(s.encode())
    return "".join(chunks)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", default=os.path.join(root, "tests", "data", "tokenizer_corpus.txt"))
    ap.add_argument("--korean", type=float, metavar="MB", help="write MB megabytes of Korean prose instead")
    ap.add_argument("--seed", type=int, default=1, help="seed of the Korean prose (default 1)")
    a = ap.parse_args()
    if a.korean:
        data = korean_prose(random.Random(SEED + a.seed), int(a.korean * 1e6)).encode()
    else:
        data = ("\n".join(corpus_lines()) + "\n").encode()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "wb") as f:
        f.write(data)
    nl = data.count(b"\n")
    print(f"{a.out}: {len(data)} bytes, {nl} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
