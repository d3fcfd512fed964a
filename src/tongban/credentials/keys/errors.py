"""``CredentialError`` and the bilingual text of every error and check code of the credentials package."""

from __future__ import annotations

#: Every error and check code of the credentials package, with its Chinese and English text.
MESSAGES: dict[str, tuple[str, str]] = {
    # input and format
    "oversized": ("输入内容过大", "The input is too large"),
    "unrecognised_format": ("无法识别的证照格式（既不是 VC-JWT，也不是 TB1: 二维码文本）",
                            "Not a recognised credential (neither a VC-JWT nor a TB1: QR text)"),
    "malformed_jwt": ("VC-JWT 结构无效", "The VC-JWT is malformed"),
    "bad_header": ("VC-JWT 头部无效", "The VC-JWT header is invalid"),
    "unsupported_alg": ("不支持的签名算法", "Unsupported signature algorithm"),
    "invalid_credential": ("证照内容不符合 W3C 可验证凭证数据模型 2.0",
                           "The credential does not conform to the W3C VC Data Model 2.0"),
    "bad_prefix": ("二维码文本不是以 TB1: 开头", "The QR text does not start with TB1:"),
    "bad_base45": ("二维码文本不是有效的 Base45 编码", "The QR text is not valid base45"),
    "bad_zlib": ("二维码数据解压失败", "The QR data does not decompress (zlib)"),
    "too_large": ("解压后的数据超过上限（疑似压缩炸弹）",
                  "The decompressed data exceeds the limit (possible decompression bomb)"),
    "bad_cbor": ("二维码数据不是有效的 CBOR", "The QR data is not valid CBOR"),
    "bad_cose": ("二维码签名结构（COSE_Sign1）无效", "The QR signature structure (COSE_Sign1) is invalid"),
    "bad_claims": ("二维码中的证照声明无效", "The claims in the QR text are invalid"),
    # keys and signatures
    "unknown_key": ("签名密钥不在信任列表中", "The signing key is not in the trust list"),
    "alg_mismatch": ("签名算法与签发密钥不符", "The signature algorithm does not match the issuer's key"),
    "bad_signature": ("签名验证失败，证照可能被篡改或并非由该密钥签发",
                      "The signature does not verify: the credential was altered or not signed by this key"),
    "sm2_unavailable": ("本机未安装国密 SM2 支持（tongsuopy）", "SM2 support (tongsuopy) is not installed"),
    "invalid_key": ("密钥无效", "The key is invalid"),
    # status lists
    "status_list_malformed": ("状态列表格式无效", "The status list is malformed"),
    "status_list_length": ("状态列表条目少于 131,072 个", "The status list has fewer than 131,072 entries"),
    "status_index_out_of_range": ("状态索引超出状态列表范围", "The status index is outside the status list"),
    "status_unavailable": ("无法获取证照的状态列表", "The credential's status list is unavailable"),
    "status_purpose_mismatch": ("状态列表用途与证照状态条目不符",
                                "The status list's purpose does not match the credential's status entry"),
    # trust lists
    "trust_list_malformed": ("信任列表格式无效", "The trust list is malformed"),
    "trust_list_bad_signature": ("信任列表签名无效（与固定的根密钥不符）",
                                 "The trust list signature does not verify against the pinned root key"),
    "trust_list_wrong_region": ("信任列表所属地区与预期不符", "The trust list is for another region"),
    "trust_list_expired": ("信任列表已过期", "The trust list has expired"),
    "trust_list_not_yet_valid": ("信任列表尚未生效", "The trust list is not yet valid"),
    "trust_list_conflict": ("信任列表与已导入的地区冲突（密钥或签发机构重复）",
                            "The trust list conflicts with an imported region (duplicate key or issuer)"),
    # verification checks
    "ok": ("通过", "Passed"),
    "not_checked": ("未检查（前一项检查未通过）", "Not checked (an earlier check failed)"),
    "no_trusted_key": ("未能校验签名：信任列表中没有该签名密钥",
                       "Signature not checked: no trusted key has this key id"),
    "untrusted_issuer": ("签发机构不在信任列表中", "The issuer is not in the trust list"),
    "issuer_mismatch": ("证照声明的签发机构与签名密钥的所有者不符",
                        "The credential's issuer is not the owner of the signing key"),
    "key_not_valid": ("签发时该签名密钥不在有效期内", "The signing key was not valid when the credential was issued"),
    "not_yet_valid": ("证照尚未生效", "The credential is not yet valid"),
    "expired": ("证照已过期", "The credential has expired"),
    "revoked": ("证照已被吊销", "The credential has been revoked"),
    "suspended": ("证照已被暂停使用", "The credential is suspended"),
}


def message(code: str) -> tuple[str, str]:
    """The (Chinese, English) text of a code."""
    return MESSAGES.get(code, ("无效", "Invalid"))


class CredentialError(ValueError):
    """Base of every error in the credentials package: a stable ``code`` and bilingual text.

    ``detail`` is a short technical explanation (English) appended to both messages.
    """

    default_code = "invalid_credential"

    def __init__(self, code: str | None = None, detail: str = "") -> None:
        self.code = code or self.default_code
        self.detail = detail
        zh, en = message(self.code)
        self.message_zh = f"{zh}：{detail}" if detail else zh
        self.message_en = f"{en}: {detail}" if detail else en
        super().__init__(f"{self.code}: {self.message_en}")


class InvalidKeyError(CredentialError):
    default_code = "invalid_key"


class UnknownKeyError(CredentialError):
    default_code = "unknown_key"
