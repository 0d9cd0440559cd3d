"""Metadata cleaning (vault.scrub): what identifies a witness must not survive."""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import shutil
import stat
import subprocess
import sys
import warnings
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import pikepdf
import pytest
from lxml import etree  # type: ignore[import-untyped]
from PIL import ExifTags, Image, ImageCms, PngImagePlugin, features

from keys.identity import InvestigatorIdentity
from keys.org import OrgKey
from keys.roster import Roster, sign_roster, utc_today
from vault import scrub
from vault.cli import main
from vault.scrub import Cleaned, ScrubFailed, ScrubRefused, clean, clean_file, detect_media_type

SECRET = "Ayshe Tursun"  # stands for anything that identifies a witness
SLEEP = shutil.which("sleep")
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"  # not something Pillow reads here
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00 moov: secret"
GPS_LATITUDE = (43.0, 49.0, 12.0)
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
    b"<dc:creator>" + SECRET.encode() + b"</dc:creator></rdf:Description></rdf:RDF>"
    b"</x:xmpmeta>"
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def identifying_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Huawei"
    exif[ExifTags.Base.Model] = "P30"
    exif[ExifTags.Base.Artist] = SECRET
    exif[ExifTags.Base.DateTime] = "2024:03:01 10:11:12"
    exif[ExifTags.Base.Orientation] = 6  # rotate 90° clockwise to display
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (81.0, 19.0, 30.0)
    return exif


def picture(mode: str = "RGB", size: tuple[int, int] = (64, 32)) -> Image.Image:
    image = Image.new(mode, size)
    for x in range(size[0]):
        for y in range(size[1]):
            if mode == "RGB":
                image.putpixel((x, y), (200 if x < size[0] // 2 else 20, 4 * y, 90))
            elif mode == "RGBA":
                image.putpixel((x, y), (200, 4 * y, 90, 255 if x % 2 else 128))
            else:
                image.putpixel((x, y), (x * 3) % 256)
    return image


def jpeg_with_everything() -> bytes:
    out = io.BytesIO()
    picture().save(out, "JPEG", exif=identifying_exif(), comment=SECRET.encode(),
                   icc_profile=SRGB_ICC, xmp=XMP, quality=95)
    return out.getvalue()


def assert_no_identifying_bytes(data: bytes) -> None:
    for needle in (SECRET.encode(), b"Huawei", b"Exif\x00\x00", b"xmpmeta", b"ICC_PROFILE",
                   b"2024:03:01"):
        assert needle not in data, needle


# --- images ----------------------------------------------------------------------------------


def test_jpeg_loses_exif_gps_xmp_comment_and_profile_and_is_turned_upright() -> None:
    original = jpeg_with_everything()
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] == (
            GPS_LATITUDE
        )
        assert {"exif", "comment", "icc_profile", "xmp"} <= set(before.info)
    result = clean(original, "IMG_20240301_101112.jpg")
    assert result == Cleaned(result.data, "image/jpeg", sha256(original), sha256(result.data),
                             False)
    assert result.sha256_before != result.sha256_after
    assert_no_identifying_bytes(result.data)
    with Image.open(io.BytesIO(result.data)) as after:
        assert after.format == "JPEG"
        assert after.size == (32, 64)  # orientation applied, then forgotten
        assert len(after.getexif()) == 0
        assert not {"exif", "comment", "icc_profile", "xmp", "photoshop"} & set(after.info)
        # The left half was red before rotating by 90° clockwise: now it is the top half.
        red, _, _ = after.convert("RGB").getpixel((16, 5))  # type: ignore[misc]
        assert red > 150


def test_png_loses_text_chunks_exif_and_profile_and_keeps_transparency() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    info.add_text("Comment", SECRET, zip=True)
    info.add_itxt("Description", SECRET, lang="ug", tkey="Description")
    out = io.BytesIO()
    picture("RGBA").save(out, "PNG", pnginfo=info, exif=identifying_exif(),
                         icc_profile=SRGB_ICC)
    original = out.getvalue()
    with Image.open(io.BytesIO(original)) as before:
        assert before.text["Author"] == SECRET  # type: ignore[attr-defined]
    result = clean(original, "screenshot.png")
    assert result.media_type == "image/png"
    assert_no_identifying_bytes(result.data)
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"):
        assert chunk not in result.data
    with Image.open(io.BytesIO(result.data)) as after:
        assert after.text == {}  # type: ignore[attr-defined]
        assert after.mode == "RGBA"
        assert after.getpixel((0, 0))[3] == 128  # type: ignore[index]


def test_palette_png_keeps_its_transparent_colour() -> None:
    image = picture("L").convert("P")
    out = io.BytesIO()
    image.save(out, "PNG", transparency=0)
    result = clean(out.getvalue(), "p.png")
    with Image.open(io.BytesIO(result.data)) as after:
        assert after.mode == "P"
        assert after.info["transparency"] == 0


def test_webp_loses_exif_xmp_and_profile() -> None:
    out = io.BytesIO()
    picture().save(out, "WEBP", exif=identifying_exif(), xmp=XMP, icc_profile=SRGB_ICC,
                   quality=90)
    original = out.getvalue()
    assert b"EXIF" in original and b"XMP " in original and b"ICCP" in original
    result = clean(original, "photo.webp")
    assert result.media_type == "image/webp"
    for chunk in (b"EXIF", b"XMP ", b"ICCP", SECRET.encode()):
        assert chunk not in result.data
    with Image.open(io.BytesIO(result.data)) as after:
        assert after.size == (32, 64)


def test_animated_webp_keeps_its_frames_and_timing() -> None:
    frames = [picture(), picture().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=[100, 300],
                   loop=2, exif=identifying_exif())
    result = clean(out.getvalue(), "anim.webp")
    assert b"EXIF" not in result.data
    with Image.open(io.BytesIO(result.data)) as after:
        assert getattr(after, "n_frames", 1) == 2
        assert after.info["loop"] == 2


def test_gif_loses_its_comment_and_keeps_animation() -> None:
    frames = [picture().convert("P"), picture().transpose(Image.Transpose.FLIP_TOP_BOTTOM)
              .convert("P")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=[120, 250],
                   loop=3, comment=SECRET.encode())
    original = out.getvalue()
    assert SECRET.encode() in original
    result = clean(original, "family.gif")
    assert result.media_type == "image/gif"
    assert SECRET.encode() not in result.data
    with Image.open(io.BytesIO(result.data)) as after:
        assert getattr(after, "n_frames", 1) == 2
        assert after.info["loop"] == 3
        assert after.info["duration"] == 120
        assert "comment" not in after.info


def test_animated_png_keeps_its_frames() -> None:
    frames = [picture(), picture().transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], duration=[100, 200],
                   loop=0, pnginfo=info)
    result = clean(out.getvalue(), "anim.png")
    assert SECRET.encode() not in result.data
    with Image.open(io.BytesIO(result.data)) as after:
        assert getattr(after, "n_frames", 1) == 2


def test_multi_picture_jpeg_keeps_only_the_main_picture() -> None:
    out = io.BytesIO()
    main, depth_map = Image.new("RGB", (16, 16), (255, 0, 0)), Image.new("L", (8, 8), 7)
    main.save(out, "MPO", save_all=True, append_images=[depth_map.convert("RGB")],
              exif=identifying_exif())
    result = clean(out.getvalue(), "portrait.jpg")
    assert b"Huawei" not in result.data and b"MPF" not in result.data
    with Image.open(io.BytesIO(result.data)) as after:
        assert after.format == "JPEG"
        assert getattr(after, "n_frames", 1) == 1
        assert after.size == (16, 16)


def test_image_that_cannot_be_encoded_again_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> bytes:
        raise OSError("cannot write mode I;16 as WEBP")

    monkeypatch.setattr(scrub, "_encode_image", refuse)
    with pytest.raises(ScrubFailed, match="cannot write mode"):
        clean(jpeg_with_everything(), "x.jpg")


def test_multipage_tiff_loses_its_tags_and_keeps_its_pages() -> None:
    pages = [picture(), picture("L")]
    out = io.BytesIO()
    tags = {315: SECRET, 271: "Canon", 270: SECRET, 305: "Scanner v1", 700: XMP}
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:], tiffinfo=tags)
    original = out.getvalue()
    assert SECRET.encode() in original
    result = clean(original, "scan.tif")
    assert result.media_type == "image/tiff"
    assert_no_identifying_bytes(result.data)
    assert b"Canon" not in result.data and b"Scanner" not in result.data
    with Image.open(io.BytesIO(result.data)) as after:
        assert getattr(after, "n_frames", 1) == 2
        tags_after = dict(after.tag_v2)  # type: ignore[attr-defined]
        for tag in (315, 271, 270, 305, 700, 33723, 34853):
            assert tag not in tags_after


def test_cmyk_jpeg_with_a_profile_becomes_rgb_without_it() -> None:
    out = io.BytesIO()
    cmyk_profile = SRGB_ICC  # not a CMYK profile: the conversion fails, pixels converted plainly
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(out, "JPEG", icc_profile=cmyk_profile)
    result = clean(out.getvalue(), "cmyk.jpg")
    with Image.open(io.BytesIO(result.data)) as after:
        assert after.mode == "RGB"
        assert "icc_profile" not in after.info


def test_grey_image_with_a_profile_drops_the_profile() -> None:
    out = io.BytesIO()
    grey_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture("L").save(out, "PNG", icc_profile=grey_icc)
    result = clean(out.getvalue(), "grey.png")
    assert b"iCCP" not in result.data


def test_rgb_image_with_a_broken_profile_keeps_its_pixels() -> None:
    out = io.BytesIO()
    picture().save(out, "PNG", icc_profile=b"not a profile at all")
    result = clean(out.getvalue(), "broken-profile.png")
    assert b"iCCP" not in result.data
    with Image.open(io.BytesIO(result.data)) as after:
        assert after.getpixel((0, 0)) == (200, 0, 90)


def test_damaged_image_fails_with_the_file_name() -> None:
    data = jpeg_with_everything()[:200]
    with pytest.raises(ScrubFailed, match=r"broken\.jpg: cannot be read as image/jpeg"):
        clean(data, "broken.jpg")


def test_pixel_limit_counts_every_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scrub, "MAX_PIXELS", 3000)
    out = io.BytesIO()
    picture().save(out, "TIFF", save_all=True, append_images=[picture()])
    with pytest.raises(ScrubFailed, match=r"many\.tif: 64×32 pixels × 2 frames is more "
                                          r"than 3000 pixels"):
        clean(out.getvalue(), "many.tif")


def test_decompression_bomb_is_refused() -> None:
    out = io.BytesIO()  # 200 M pixels in a few KiB
    Image.new("1", (20_000, 10_000)).save(out, "PNG")
    with pytest.raises(ScrubFailed, match="too many pixels"):
        clean(out.getvalue(), "bomb.png")


# --- PDF -------------------------------------------------------------------------------------


def small_jpeg_with_gps() -> bytes:
    out = io.BytesIO()
    picture(size=(16, 16)).save(out, "JPEG", exif=identifying_exif(), comment=b"c")
    return out.getvalue()


def pdf_with_everything() -> tuple[bytes, bytes]:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    pdf.docinfo["/Author"] = SECRET
    pdf.docinfo["/Producer"] = "Scanner v1"
    pdf.docinfo["/CreationDate"] = "D:20240301101112+06'00'"
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = [SECRET]
    page = pdf.pages[0].obj
    page["/PieceInfo"] = pikepdf.Dictionary(App=pikepdf.Dictionary(Private=SECRET))
    page["/LastModified"] = "D:20240301101112"
    page["/Metadata"] = pdf.make_indirect(pikepdf.Stream(pdf, XMP))
    note = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text,
                              Rect=[0, 0, 10, 10], T=SECRET, M="D:20240301",
                              CreationDate="D:20240301", Contents="the camp is here")
    widget = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget,
                                Rect=[0, 0, 5, 5], T="field1")
    highlight = pikepdf.Dictionary(Subtype=pikepdf.Name.Highlight, Rect=[0, 0, 1, 1], T=SECRET)
    page["/Annots"] = pdf.make_indirect(pikepdf.Array([
        pdf.make_indirect(note), pdf.make_indirect(widget), pdf.make_indirect(highlight)]))
    plain_jpeg = io.BytesIO()
    picture(size=(4, 4)).save(plain_jpeg, "JPEG")
    plain = pikepdf.Stream(pdf, plain_jpeg.getvalue(), Type=pikepdf.Name.XObject,
                           Subtype=pikepdf.Name.Image, Width=4, Height=4,
                           ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8,
                           Filter=pikepdf.Name.DCTDecode)
    jpeg = small_jpeg_with_gps()
    image = pikepdf.Stream(pdf, jpeg, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                           Width=16, Height=16, ColorSpace=pikepdf.Name.DeviceRGB,
                           BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode)
    image["/Metadata"] = pdf.make_indirect(pikepdf.Stream(pdf, XMP))
    page["/Resources"] = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image, Im1=plain))
    page["/Contents"] = pdf.make_indirect(pikepdf.Stream(pdf, b"q 16 0 0 16 0 0 cm /Im0 Do Q"))
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pikepdf.PageCopyWarning)  # the widget is not in a form
        pdf.save(out)
    return out.getvalue(), jpeg


def all_pdf_bytes(data: bytes) -> bytes:
    """The file plus every stream decoded, so compressed metadata cannot hide."""
    parts = [data]
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream):
                try:
                    parts.append(obj.read_bytes())
                except pikepdf.PdfError:
                    parts.append(obj.read_raw_bytes())
    return b"".join(parts)


def test_pdf_loses_info_xmp_pieceinfo_annotation_authors_and_image_exif() -> None:
    original, jpeg = pdf_with_everything()
    assert SECRET.encode() in all_pdf_bytes(original)
    result = clean(original, "letter.pdf")
    assert result.media_type == "application/pdf"
    everything = all_pdf_bytes(result.data)
    assert SECRET.encode() not in everything
    assert b"Scanner v1" not in everything
    assert b"Exif" not in everything
    assert b"20240301" not in everything
    with pikepdf.open(io.BytesIO(result.data)) as pdf, \
            pikepdf.open(io.BytesIO(original)) as before:
        assert "/Info" not in pdf.trailer
        assert "/Metadata" not in pdf.Root
        assert pdf.trailer.ID[0] != before.trailer.ID[0]
        page = pdf.pages[0].obj
        assert "/PieceInfo" not in page and "/LastModified" not in page
        assert "/Metadata" not in page
        note, widget, highlight = page.Annots
        assert str(note.Contents) == "the camp is here"
        assert "/T" not in note and "/M" not in note and "/CreationDate" not in note
        assert "/T" not in highlight
        assert str(widget.T) == "field1"  # a form field's name is not an author
        image = page.Resources.XObject.Im0
        assert "/Metadata" not in image
        stripped = image.read_raw_bytes()
        assert jpeg.endswith(stripped[stripped.index(b"\xff\xda"):])  # scan data bit-exact
        with Image.open(io.BytesIO(stripped)) as decoded:
            assert decoded.size == (16, 16)
            assert len(decoded.getexif()) == 0


def test_pdf_without_info_or_id() -> None:
    bare = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >> endobj\n"
        b"trailer << /Root 1 0 R /Size 4 >>\n%%EOF\n"
    )
    result = clean(bare, "bare.pdf")
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        assert len(pdf.pages) == 1
        assert "/Info" not in pdf.trailer


def test_pdf_cleaning_is_deterministic() -> None:
    original, _ = pdf_with_everything()
    assert clean(original, "a.pdf").data == clean(original, "b.pdf").data


def test_pdf_with_a_user_password_is_refused() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="owner", user="user"))
    with pytest.raises(ScrubRefused, match=r"locked\.pdf: the PDF is password-protected"):
        clean(out.getvalue(), "locked.pdf")


def test_pdf_with_only_an_owner_password_comes_out_unencrypted() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = SECRET
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="owner", user=""))
    result = clean(out.getvalue(), "restricted.pdf")
    with pikepdf.open(io.BytesIO(result.data)) as cleaned:
        assert not cleaned.is_encrypted
        assert "/Info" not in cleaned.trailer


def test_damaged_pdf_fails() -> None:
    with pytest.raises(ScrubFailed, match=r"bad\.pdf: cannot be read as a PDF"):
        clean(b"%PDF-1.7\n" + b"\x00" * 50, "bad.pdf")


@pytest.mark.parametrize(
    "data",
    [
        b"not a jpeg",
        b"\xff\xd8\x00\x00\x00\x00",  # no marker where one must be
        b"\xff\xd8\xff\xe1\x00\x01\x00\x00",  # a segment length below 2
        b"\xff\xd8\xff\xe1\x00\xff\x00\x00",  # a segment longer than the data
        b"\xff\xd8\xff\xfe\x00\x04ab",  # ends before a scan
    ],
)
def test_jpeg_segment_stripper_leaves_malformed_data_alone(data: bytes) -> None:
    assert scrub._strip_jpeg_segments(data) == data


def test_jpeg_segment_stripper_skips_fill_bytes_and_keeps_jfif_and_adobe() -> None:
    jfif = b"\xff\xe0\x00\x07JFIF\x00"
    adobe = b"\xff\xee\x00\x07Adobe"
    other_app0 = b"\xff\xe0\x00\x07JFXX\x00"
    exif = b"\xff\xe1\x00\x08Exif\x00\x00"
    dqt = b"\xff\xdb\x00\x04\x01\x02"
    scan = b"\xff\xda\x00\x02image data\xff\xd9"
    data = b"\xff\xd8" + jfif + b"\xff" + exif + other_app0 + adobe + dqt + scan
    assert scrub._strip_jpeg_segments(data) == b"\xff\xd8" + jfif + adobe + dqt + scan


GPS_CANARY = "KASHGAR-GPS-CANARY"


def jpeg_with_gps_canary(size: tuple[int, int] = (16, 16)) -> bytes:
    exif = identifying_exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSMapDatum] = GPS_CANARY
    out = io.BytesIO()
    picture(size=size).save(out, "JPEG", exif=exif, comment=SECRET.encode(), quality=90)
    data = out.getvalue()
    assert GPS_CANARY.encode() in data
    return data


# --- office documents ------------------------------------------------------------------------
# Real packages, built part by part with the traces Office and LibreOffice leave: the user
# name in paths, GUIDs, w14/w15 ids, authors in single-quoted attributes.

USER = "ayshe.tursun"  # the Windows account name, in paths
GUID = "8C2A41B7-5D3E-4F9A-B1C6-0E7D2F3A9B45"
PARA_ID = "1A2B3C4D"
OFFICE_CANARIES = (SECRET.encode(), USER.encode(), GUID.encode(), PARA_ID.encode(),
                   GPS_CANARY.encode(), b"Huawei", b"2024-03-01", b"rsid", b"Normal.dotm",
                   b"IMG_2024")
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
CT = "application/vnd.openxmlformats-officedocument."
CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties '
    'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">'
    f"<dc:creator>{SECRET}</dc:creator><cp:lastModifiedBy>{SECRET}</cp:lastModifiedBy>"
    "<cp:revision>7</cp:revision><dcterms:created>2024-03-01T10:11:12Z</dcterms:created>"
    "</cp:coreProperties>"
)
APP = (
    '<?xml version="1.0"?><Properties xmlns="http://schemas.openxmlformats.org/officeDocument/'
    f'2006/extended-properties"><Company>{SECRET} Ltd</Company><Template>Normal.dotm</Template>'
    "<TotalTime>42</TotalTime></Properties>"
)
CUSTOM = (
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties">'
    f"<property name='owner'>{SECRET}</property></Properties>"
)
DOCUMENT = (
    f'<?xml version="1.0"?><w:document xmlns:w="{W}" xmlns:r="{R}" xmlns:mc="{MC}" '
    f'xmlns:w14="{W14}" xmlns:w15="{W15}" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture" '
    'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
    'mc:Ignorable="w14 w15"><w:body>'
    f'<w:p w14:paraId="{PARA_ID}" w14:textId="{PARA_ID}" w:rsidR="00A1B2C3" '
    'w:rsidRDefault="00D4E5F6">'
    f"<w:ins w:id='1' w:author='{SECRET}' w:date='2024-03-01T10:11:12Z'><w:r><w:t>"
    "my brother was taken</w:t></w:r></w:ins>"
    '<w:hyperlink r:id="rIdWeb"><w:r><w:t>the report</w:t></w:r></w:hyperlink>'
    '<w:hyperlink r:id="rIdFile"><w:r><w:t>my notes</w:t></w:r></w:hyperlink>'
    "<w:r><mc:AlternateContent><mc:Choice Requires=\"w14\">"
    f"<w14:contentPart>{GUID}</w14:contentPart></mc:Choice><mc:Fallback><w:t>fallback text"
    "</w:t><w:pict><v:shape id='s1' o:gfxdata='UEsDBBQABgAIAAAAIQC"
    f"{GUID}'><v:imagedata r:id='rIdImage' o:title='IMG_20240301_101112'/></v:shape>"
    "</w:pict></mc:Fallback></mc:AlternateContent></w:r>"
    '<w:r><mc:AlternateContent><mc:Choice Requires="w14"><w:t>extension</w:t></mc:Choice>'
    '<mc:Choice Requires="v"><w:t>standard choice</w:t></mc:Choice><mc:Fallback><w:t>'
    "second fallback</w:t></mc:Fallback></mc:AlternateContent></w:r>"
    '<w:r><w:drawing><wp:inline><wp:docPr id="1" name="IMG_20240301_101112.jpg" '
    f'descr="C:\\Users\\{USER}\\Pictures\\IMG_20240301_101112.jpg"/><a:graphic><a:graphicData>'
    '<pic:pic><pic:nvPicPr><pic:cNvPr id="0" name="IMG_20240301_101112.jpg"/></pic:nvPicPr>'
    '<pic:blipFill><a:blip r:embed="rIdImage"><a:extLst><a:ext uri="{96DAC541-7B7A-43D3-8B79'
    '-37D633B846F1}"><asvg:svgBlip xmlns:asvg="http://schemas.microsoft.com/office/drawing/'
    '2016/SVG/main" r:embed="rIdSvg"/></a:ext></a:extLst></a:blip></pic:blipFill></pic:pic>'
    "</a:graphicData>"
    "</a:graphic></wp:inline></w:drawing></w:r>"
    f'<w:permStart w:id="2" w:ed="DOMAIN\\{USER}"/></w:p>'
    '<w:sdt><w:sdtPr><w:dataBinding w:xpath="/root/owner" '
    f'w:storeItemID="{{{GUID}}}"/></w:sdtPr><w:sdtContent><w:p><w:r><w:t>bound</w:t></w:r>'
    "</w:p></w:sdtContent></w:sdt></w:body></w:document>"
)
SETTINGS = (
    f'<?xml version="1.0"?><w:settings xmlns:w="{W}" xmlns:r="{R}" xmlns:mc="{MC}" '
    f'xmlns:w14="{W14}" xmlns:w15="{W15}" mc:Ignorable="w14 w15"><w:zoom w:percent="100"/>'
    '<w:attachedTemplate r:id="rId1"/>'
    f'<w:docVars><w:docVar w:name="owner" w:val="{SECRET}"/></w:docVars>'
    '<w:rsids><w:rsidRoot w:val="00A1B2C3"/><w:rsid w:val="00D4E5F6"/></w:rsids>'
    f'<w14:docId w14:val="{PARA_ID}"/><w15:docId w15:val="{{{GUID}}}"/></w:settings>'
)
SETTINGS_RELS = (
    f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{TYPE}attachedTemplate" '
    f'Target="file:///C:\\Users\\{USER}\\AppData\\Roaming\\Microsoft\\Templates\\Normal.dotm" '
    'TargetMode="External"/></Relationships>'
)
DOCUMENT_RELS = (
    f'<Relationships xmlns="{RELS}">'
    f'<Relationship Id="rIdImage" Type="{TYPE}image" Target="media/image%201.jpeg"/>'
    f'<Relationship Id="rIdSvg" Type="{TYPE}image" Target="media/image2.svg"/>'
    f'<Relationship Id="rIdSettings" Type="{TYPE}settings" Target="settings.xml"/>'
    f'<Relationship Id="rIdComments" Type="{TYPE}comments" Target="comments.xml"/>'
    f'<Relationship Id="rIdStyles" Type="{TYPE}styles" Target="styles.xml"/>'
    '<Relationship Id="rIdPeople" Type="http://schemas.microsoft.com/office/2011/'
    'relationships/people" Target="people.xml"/>'
    f'<Relationship Id="rIdXml" Type="{TYPE}customXml" Target="../customXml/item1.xml"/>'
    f'<Relationship Id="rIdWeb" Type="{TYPE}hyperlink" Target="https://example.org/report" '
    'TargetMode="External"/>'
    f'<Relationship Id="rIdFile" Type="{TYPE}hyperlink" '
    f'Target="file:///C:\\Users\\{USER}\\Documents\\notes.docx" TargetMode="External"/>'
    "</Relationships>"
)
COMMENTS = (
    f"<w:comments xmlns:w='{W}'><w:comment w:id='0' w:author='{SECRET}' w:initials='AT' "
    "w:date='2024-03-01T10:11:12Z'><w:p><w:r><w:t>he was 52</w:t></w:r></w:p></w:comment>"
    "</w:comments>"
)
PEOPLE = (
    f'<w15:people xmlns:w15="{W15}"><w15:person w15:author="{SECRET}"><w15:presenceInfo '
    f'w15:providerId="Windows Live" w15:userId="{USER}@example.org"/></w15:person>'
    "</w15:people>"
)
PACKAGE_RELS = (
    f'<Relationships xmlns="{RELS}">'
    f'<Relationship Id="rId1" Type="{TYPE}officeDocument" Target="{{main}}"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
    'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{TYPE}extended-properties" Target="docProps/app.xml"/>'
    '<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/package/2006/'
    'relationships/metadata/thumbnail" Target="docProps/thumbnail.emf"/>'
    "</Relationships>"
)
# Part name → content type, for [Content_Types].xml overrides.
OVERRIDES = {
    "word/document.xml": f"{CT}wordprocessingml.document.main+xml",
    "word/settings.xml": f"{CT}wordprocessingml.settings+xml",
    "word/comments.xml": f"{CT}wordprocessingml.comments+xml",
    "word/styles.xml": f"{CT}wordprocessingml.styles+xml",
    "word/people.xml": "application/vnd.ms-word.people+xml",
    "xl/workbook.xml": f"{CT}spreadsheetml.sheet.main+xml",
    "xl/worksheets/sheet1.xml": f"{CT}spreadsheetml.worksheet+xml",
    "xl/comments1.xml": f"{CT}spreadsheetml.comments+xml",
    "xl/persons/person.xml": "application/vnd.ms-excel.person+xml",
    "xl/externalLinks/externalLink1.xml": f"{CT}spreadsheetml.externalLink+xml",
    "ppt/presentation.xml": f"{CT}presentationml.presentation.main+xml",
    "ppt/commentAuthors.xml": f"{CT}presentationml.commentAuthors+xml",
    "ppt/comments/comment1.xml": f"{CT}presentationml.comments+xml",
    "docProps/core.xml": "application/vnd.openxmlformats-package.core-properties+xml",
    "docProps/app.xml": f"{CT}extended-properties+xml",
    "docProps/custom.xml": f"{CT}custom-properties+xml",
}


def content_types(parts: list[str]) -> str:
    defaults = {"rels": "application/vnd.openxmlformats-package.relationships+xml",
                "xml": "application/xml", "jpeg": "image/jpeg", "png": "image/png",
                "emf": "image/x-emf", "bin": f"{CT}spreadsheetml.printerSettings",
                "xlsx": f"{CT}spreadsheetml.sheet", "vml": f"{CT}vmlDrawing",
                "svg": "image/svg+xml"}
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.'
        'openxmlformats.org/package/2006/content-types">'
        + "".join(f'<Default Extension="{e}" ContentType="{t}"/>' for e, t in defaults.items())
        + "".join(f'<Override PartName="/{p}" ContentType="{OVERRIDES[p]}"/>'
                  for p in parts if p in OVERRIDES)
        + "</Types>"
    )


def package(main: str, parts: list[tuple[str, bytes | str]]) -> bytes:
    """An Office Open XML package: content types, package relationships and ``parts``."""
    names = [name for name, _ in parts] + ["docProps/core.xml", "docProps/app.xml",
                                           "docProps/custom.xml", "docProps/thumbnail.emf"]
    return zip_bytes([
        ("[Content_Types].xml", content_types(names)),
        ("_rels/.rels", PACKAGE_RELS.replace("{main}", main)),
        *parts,
        ("docProps/core.xml", CORE),
        ("docProps/app.xml", APP),
        ("docProps/custom.xml", CUSTOM),
        ("docProps/thumbnail.emf", b"\x01\x00\x00\x00 EMF thumbnail " + SECRET.encode()),
    ])


def zip_bytes(entries: list[tuple[str, bytes | str]], *, stored_first: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, content) in enumerate(entries):
            info = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 10, 11, 12))
            info.compress_type = zipfile.ZIP_STORED if stored_first and index == 0 else (
                zipfile.ZIP_DEFLATED)
            info.external_attr = 0o640 << 16
            info.create_system = 3
            info.comment = SECRET.encode()
            archive.writestr(info, content)
        archive.comment = SECRET.encode()
    return out.getvalue()


def docx(*extra: tuple[str, bytes | str]) -> bytes:
    """A document with the traces above; ``extra`` parts are embedded objects in it."""
    document, relationships = DOCUMENT, DOCUMENT_RELS
    for index, (name, _) in enumerate(extra):
        target = name.removeprefix("word/")
        relationships = relationships.replace("</Relationships>", (
            f'<Relationship Id="rIdE{index}" Type="{TYPE}package" Target="{target}"/>'
            "</Relationships>"))
        document = document.replace("</w:body>", (
            f'<w:p><w:r><w:object><o:OLEObject r:id="rIdE{index}"/></w:object></w:r></w:p>'
            "</w:body>"))
    return package("word/document.xml", [
        ("word/document.xml", document),
        ("word/_rels/document.xml.rels", relationships),
        ("word/settings.xml", SETTINGS),
        ("word/_rels/settings.xml.rels", SETTINGS_RELS),
        ("word/comments.xml", COMMENTS),
        ("word/styles.xml", f'<w:styles xmlns:w="{W}"><w:style w:styleId="Heading1"><w:rsid '
                            'w:val="009B41F8"/><w:qFormat/></w:style></w:styles>'),
        ("word/people.xml", PEOPLE),
        ("customXml/item1.xml", f"<root><owner>{SECRET}</owner></root>"),
        ("word/media/image 1.jpeg", jpeg_with_gps_canary()),
        ("word/media/image2.svg", f"<svg xmlns='http://www.w3.org/2000/svg'><metadata>{SECRET}"
                                  "</metadata></svg>"),
        ("word/", b""),
        *extra,
    ])


def unzip(data: bytes) -> dict[str, bytes]:
    """The parts of a cleaned package, after checking that it opens: a zip without
    timestamps or comments whose XML parts all parse, whose content types name only parts
    it has, and whose relationships point only at parts it has (or at web links)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.comment == b""
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.comment == b""
            assert info.extra == b""
            assert info.create_system == 0
            assert info.external_attr == 0o600 << 16
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    for name, content in parts.items():
        if name.endswith((".xml", ".rels")):
            root = etree.fromstring(content)
            if name == "[Content_Types].xml":
                for override in root.iter("{*}Override"):
                    assert override.get("PartName")[1:] in parts, override.get("PartName")
            if name.endswith(".rels"):
                source = posixpath.dirname(posixpath.dirname(name))
                for link in root.iter("{*}Relationship"):
                    target = link.get("Target")
                    if link.get("TargetMode") == "External":
                        assert target.startswith(("https:", "mailto:")), target
                    else:
                        assert posixpath.normpath(posixpath.join(source, unquote(target))) in (
                            parts)
    return parts


def assert_no_office_canaries(parts: dict[str, bytes]) -> None:
    everything = b"".join(parts.values()) + "".join(parts).encode()
    for canary in OFFICE_CANARIES:
        assert canary not in everything, canary


def test_docx_is_rebuilt_from_safe_parts_and_attributes() -> None:
    original = docx()
    for canary in OFFICE_CANARIES:
        assert canary in original or canary in b"".join(unzip_raw(original).values()), canary
    result = clean(original, "statement.docx")
    assert result.media_type == scrub.DOCX
    parts = unzip(result.data)
    assert_no_office_canaries(parts)
    assert sorted(parts) == [
        "[Content_Types].xml", "_rels/.rels", "docProps/app.xml", "docProps/core.xml",
        "docProps/custom.xml", "word/_rels/document.xml.rels", "word/_rels/settings.xml.rels",
        "word/comments.xml", "word/document.xml", "word/media/image 1.jpeg",
        "word/settings.xml", "word/styles.xml"]
    assert b"<w:qFormat/>" in parts["word/styles.xml"]
    document = parts["word/document.xml"]
    for kept in (b"my brother was taken", b"the report", b"my notes", b"fallback text",
                 b'w:author=""', b'r:embed="rIdImage"', b'<v:imagedata r:id="rIdImage"/>'):
        assert kept in document, kept
    assert b"standard choice" in document
    for gone in (b"w14", b"w15", b"mc:", b"Ignorable", b"w:date", b"rIdFile", b"w:ed=",
                 b"extension", b"second fallback"):
        assert gone not in document, gone
    assert b"https://example.org/report" in parts["word/_rels/document.xml.rels"]
    assert b"<w:zoom" in parts["word/settings.xml"]
    assert b"attachedTemplate" not in parts["word/settings.xml"] + (
        parts["word/_rels/settings.xml.rels"])
    assert b'w:author=""' in parts["word/comments.xml"] and b"he was 52" in (
        parts["word/comments.xml"])
    assert b"<dc:creator" not in parts["docProps/core.xml"]
    assert b'Target="media/image%201.jpeg"' in parts["word/_rels/document.xml.rels"]
    # The SVG only the dropped extension (asvg) showed goes, with its relationship.
    assert b"image2.svg" not in parts["word/_rels/document.xml.rels"]
    with Image.open(io.BytesIO(parts["word/media/image 1.jpeg"])) as image:
        assert len(image.getexif()) == 0
        assert image.size == (16, 16)


def unzip_raw(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.'
    f'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{R}" xmlns:mc="{MC}" '
    'xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main" '
    'xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision" '
    'xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac" '
    'mc:Ignorable="x15 xr x15ac">'
    '<fileVersion appName="xl" lastEdited="7" lowestEdited="7" rupBuild="27328"/>'
    f"<fileSharing userName='{SECRET}' reservationPassword='CC3D'/>"
    '<workbookPr defaultThemeVersion="166925"/>'
    '<mc:AlternateContent><mc:Choice Requires="x15"><x15ac:absPath '
    f'url="C:\\Users\\{USER}\\Documents\\"/></mc:Choice></mc:AlternateContent>'
    f'<xr:revisionPtr revIDLastSave="0" documentId="8_{{{GUID}}}" '
    f'xr6:coauthVersionLast="47" xmlns:xr6="http://schemas.microsoft.com/office/'
    'spreadsheetml/2016/revision6"/>'
    '<sheets><sheet name="Detained" sheetId="1" r:id="rId1"/></sheets>'
    '<externalReferences><externalReference r:id="rId3"/></externalReferences></workbook>'
)
SHEET = (
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    f'xmlns:r="{R}" xmlns:mc="{MC}" xmlns:xr="http://schemas.microsoft.com/office/'
    'spreadsheetml/2014/revision" xmlns:x14ac="http://schemas.microsoft.com/office/'
    f'spreadsheetml/2009/9/ac" mc:Ignorable="x14ac xr" xr:uid="{{{GUID}}}">'
    '<sheetData><row r="1" x14ac:dyDescent="0.25"><c r="A1" t="inlineStr"><is><t>they took '
    'him</t></is></c></row></sheetData><pageSetup orientation="portrait" r:id="rId1"/>'
    "</worksheet>"
)
WORKBOOK_RELS = (
    f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{TYPE}worksheet" '
    'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.microsoft.'
    'com/office/2017/10/relationships/person" Target="persons/person.xml"/>'
    f'<Relationship Id="rId3" Type="{TYPE}externalLink" '
    'Target="externalLinks/externalLink1.xml"/></Relationships>'
)
SHEET_RELS = (
    f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{TYPE}printerSettings" '
    'Target="../printerSettings/printerSettings1.bin"/><Relationship Id="rId2" '
    f'Type="{TYPE}comments" Target="../comments1.xml"/><Relationship Id="rId3" '
    f'Type="{TYPE}vmlDrawing" Target="../drawings/vmlDrawing1.vml"/></Relationships>'
)


def xlsx() -> bytes:
    return package("xl/workbook.xml", [
        ("xl/workbook.xml", WORKBOOK),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        ("xl/worksheets/sheet1.xml", SHEET),
        ("xl/worksheets/_rels/sheet1.xml.rels", SHEET_RELS),
        ("xl/comments1.xml",
         '<comments xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
         f"<authors><author>{SECRET}</author><author>tc={{{GUID}}}</author></authors>"
         '<commentList><comment ref="A1" authorId="0"><text><t>seen in 2019</t></text>'
         "</comment></commentList></comments>"),
        ("xl/persons/person.xml",
         f'<personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/'
         f'threadedcomments"><person displayName="{SECRET}" id="{{{GUID}}}" '
         f'userId="{USER}" providerId="AD"/></personList>'),
        ("xl/printerSettings/printerSettings1.bin", f"\\\\{USER}-PC\\HP LaserJet"),
        ("xl/drawings/vmlDrawing1.vml",  # a legacy drawing: its root has no namespace
         '<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:'
         'office:office" xmlns:x="urn:schemas-microsoft-com:office:excel"><v:shape '
         f'id="_x0000_s1025" o:gfxdata="{GUID}"><x:ClientData ObjectType="Note"><x:Row>0'
         "</x:Row></x:ClientData></v:shape></xml>"),
        ("xl/externalLinks/externalLink1.xml",
         '<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
         f'xmlns:r="{R}"><externalBook r:id="rId1"/></externalLink>'),
        ("xl/externalLinks/_rels/externalLink1.xml.rels",
         f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{TYPE}'
         f'externalLinkPath" Target="file:///C:\\Users\\{USER}\\Documents\\camps.xlsx" '
         'TargetMode="External"/></Relationships>'),
    ])


def test_xlsx_loses_abspath_guids_user_names_and_printer() -> None:
    result = clean(xlsx(), "list.xlsx")
    assert result.media_type == scrub.XLSX
    parts = unzip(result.data)
    assert_no_office_canaries(parts)
    assert "xl/persons/person.xml" not in parts
    assert "xl/printerSettings/printerSettings1.bin" not in parts
    workbook = parts["xl/workbook.xml"]
    assert b"absPath" not in workbook and b"fileSharing" not in workbook
    assert b"externalReference" not in workbook  # the link to a file on the user's disk
    assert b'<sheet name="Detained" sheetId="1" r:id="rId1"/>' in workbook
    sheet = parts["xl/worksheets/sheet1.xml"]
    assert b"they took him" in sheet
    assert b"<pageSetup orientation=\"portrait\"/>" in sheet  # its printer link is gone
    assert b"seen in 2019" in parts["xl/comments1.xml"]
    assert b'<x:ClientData ObjectType="Note">' in parts["xl/drawings/vmlDrawing1.vml"]
    assert b"<author></author>" in parts["xl/comments1.xml"] or (
        b"<author/>" in parts["xl/comments1.xml"])


def test_embedded_documents_are_cleaned_too() -> None:
    outer = docx(("word/embeddings/Microsoft_Excel_Worksheet.xlsx", xlsx()))
    parts = unzip(clean(outer, "report.docx").data)
    embedded = unzip(parts["word/embeddings/Microsoft_Excel_Worksheet.xlsx"])
    assert_no_office_canaries(embedded)
    assert b"they took him" in embedded["xl/worksheets/sheet1.xml"]


def test_embedded_objects_that_cannot_be_cleaned_are_refused() -> None:
    with pytest.raises(ScrubRefused) as caught:
        clean(docx(("word/embeddings/oleObject1.bin", b"\xd0\xcf\x11\xe0 OLE " + SECRET.encode())),
              "report.docx")
    assert str(caught.value) == (
        "report.docx: word/embeddings/oleObject1.bin: an embedded object or picture of a "
        "type amanat cannot clean; save the document as PDF, or send the embedded file "
        "separately and the document without it, or send it unchanged with its metadata "
        "(--keep-metadata)")


def test_documents_nested_too_deeply_are_refused() -> None:
    nested = xlsx()
    for level in range(scrub.MAX_PACKAGE_DEPTH + 1):
        nested = docx((f"word/embeddings/level{level}.docx", nested))
    with pytest.raises(ScrubRefused, match="nested more than 2 deep"):
        clean(nested, "matryoshka.docx")


def pptx() -> bytes:
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    return package("ppt/presentation.xml", [
        ("ppt/presentation.xml", f'<p:presentation xmlns:p="{p}"/>'),
        ("ppt/_rels/presentation.xml.rels",
         f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{TYPE}commentAuthors" '
         f'Target="commentAuthors.xml"/><Relationship Id="rId2" Type="{TYPE}comments" '
         'Target="comments/comment1.xml"/></Relationships>'),
        ("ppt/commentAuthors.xml",
         f"<p:cmAuthorLst xmlns:p='{p}'><p:cmAuthor id='1' name='{SECRET}' initials='AT' "
         "lastIdx='1' clrIdx='0'/></p:cmAuthorLst>"),
        ("ppt/comments/comment1.xml",
         f'<p:cmLst xmlns:p="{p}"><p:cm authorId="1" dt="2024-03-01T10:11:12.000" idx="1">'
         '<p:pos x="10" y="10"/><p:text>the camp</p:text></p:cm></p:cmLst>'),
    ])


def test_pptx_comment_authors_and_dates_are_removed() -> None:
    result = clean(pptx(), "slides.pptx")
    assert result.media_type == scrub.PPTX
    parts = unzip(result.data)
    assert_no_office_canaries(parts)
    assert b"the camp" in parts["ppt/comments/comment1.xml"]


ODF_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
ODF_NAMESPACES = (
    f'xmlns:office="{ODF_OFFICE}" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:officeooo="http://openoffice.org/2009/office" '
    'xmlns:loext="urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0"'
)


def odf_meta(version: str = ' office:version="1.3"') -> str:
    return (
        f'<?xml version="1.0"?><office:document-meta {ODF_NAMESPACES}{version}>'
        f"<office:meta><meta:initial-creator>{SECRET}</meta:initial-creator>"
        f"<dc:creator>{SECRET}</dc:creator><meta:creation-date>2024-03-01T10:11:12"
        "</meta:creation-date><meta:generator>LibreOffice/7.6</meta:generator></office:meta>"
        "</office:document-meta>"
    )


def odt() -> bytes:
    content = (
        f"<office:document-content {ODF_NAMESPACES} office:version='1.3'><office:body>"
        f"<office:text><text:p officeooo:rsid='{PARA_ID}'>they took him</text:p>"
        f"<office:annotation><dc:creator>{SECRET}</dc:creator><dc:date>2024-03-01T10:11:12"
        "</dc:date><text:p>note</text:p></office:annotation>"
        f"<text:p><text:a xlink:href='file:///home/{USER}/notes.odt'>my notes</text:a>"
        "<text:a xlink:href='https://example.org/'>the report</text:a></text:p>"
        "<draw:frame><draw:image xlink:href='Pictures/photo.png'/></draw:frame>"
        "<draw:frame><draw:object xlink:href='./Object 1'/><draw:image "
        "xlink:href='./ObjectReplacements/Object 1'/></draw:frame>"
        f"<loext:extension>{GUID}</loext:extension></office:text></office:body>"
        "</office:document-content>"
    )
    settings = (
        '<office:document-settings xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:'
        '1.0" xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0"><config:'
        f'config-item config:name="PrinterName" config:type="string">{SECRET} printer'
        "</config:config-item></office:document-settings>"
    )
    manifest_ns = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
    entries = ["/", "content.xml", "meta.xml", "settings.xml", "Pictures/photo.png",
               "Object 1/", "Object 1/content.xml", "Object 1/meta.xml",
               "ObjectReplacements/Object 1", "Thumbnails/thumbnail.png"]
    manifest = (
        f'<manifest:manifest xmlns:manifest="{manifest_ns}" manifest:version="1.3">'
        + "".join(f'<manifest:file-entry manifest:full-path="{e}" manifest:media-type=""/>'
                  for e in entries)
        + "</manifest:manifest>"
    )
    return zip_bytes([
        ("mimetype", "application/vnd.oasis.opendocument.text"),
        ("META-INF/manifest.xml", manifest),
        ("meta.xml", odf_meta()),
        ("content.xml", content),
        ("settings.xml", settings),
        ("Pictures/photo.png", _png_with_text()),
        ("Object 1/content.xml", f"<office:document-content {ODF_NAMESPACES}>"
                                 "<office:body/></office:document-content>"),
        ("Object 1/meta.xml", odf_meta()),
        ("ObjectReplacements/Object 1", b"SVM preview " + SECRET.encode()),
        ("Thumbnails/thumbnail.png", _png_with_text()),
    ], stored_first=True)


def _png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    out = io.BytesIO()
    picture().save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_odt_is_rebuilt_from_safe_parts() -> None:
    result = clean(odt(), "statement.odt")
    assert result.media_type == "application/vnd.oasis.opendocument.text"
    with zipfile.ZipFile(io.BytesIO(result.data)) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype"
        assert first.compress_type == zipfile.ZIP_STORED
    parts = unzip(result.data)
    assert_no_office_canaries(parts)
    assert b"LibreOffice" not in b"".join(parts.values())
    assert sorted(parts) == ["META-INF/manifest.xml", "Object 1/content.xml",
                             "Object 1/meta.xml", "Pictures/photo.png", "content.xml",
                             "meta.xml", "mimetype"]
    assert b'office:version="1.3"' in parts["meta.xml"]
    content = parts["content.xml"]
    for kept in (b"they took him", b"my notes", b"https://example.org/", b"Pictures/photo.png",
                 b"./Object 1", b"<text:p>note</text:p>"):
        assert kept in content, kept
    assert b"ObjectReplacements" not in content and b"loext" not in content
    manifest = etree.fromstring(parts["META-INF/manifest.xml"])
    listed = [e.get("{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}full-path")
              for e in manifest]
    assert listed == ["/", "content.xml", "meta.xml", "Pictures/photo.png", "Object 1/",
                      "Object 1/content.xml", "Object 1/meta.xml"]
    with Image.open(io.BytesIO(parts["Pictures/photo.png"])) as image:
        assert image.text == {}  # type: ignore[attr-defined]


def test_odf_meta_without_a_version_gets_the_default() -> None:
    data = zip_bytes([("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
                      ("meta.xml", odf_meta(""))], stored_first=True)
    parts = unzip(clean(data, "sheet.ods").data)
    assert b'office:version="1.2"' in parts["meta.xml"]


def test_office_xml_with_a_doctype_fails() -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]>'
            f'<w:document xmlns:w="{W}">&a;</w:document>')
    with pytest.raises(ScrubFailed, match="document type declaration"):
        clean(package("word/document.xml", [("word/document.xml", bomb)]), "bomb.docx")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("[Content_Types].xml", "<Types/>"), ("word/document.xml", "x" * 10_000_000)],
         "possible zip bomb"),
        ([("[Content_Types].xml", "<Types/>"), ("word/document.xml", "x"),
          ("word/document.xml", "y")], "the package repeats an entry name"),
    ],
)
def test_hostile_packages_fail(entries: list[tuple[str, str]], message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        data = zip_bytes(entries)  # type: ignore[arg-type]
    with pytest.raises(ScrubFailed, match=message):
        clean(data, "evil.docx")


def test_too_many_entries_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scrub, "MAX_ZIP_ENTRIES", 3)
    with pytest.raises(ScrubFailed, match="more than 3 entries"):
        clean(docx(), "big.docx")


def test_encrypted_package_is_refused() -> None:
    data = bytearray(docx())
    # Set the "encrypted" flag on every local and central header.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + offset] |= 1
            start += 4
    with pytest.raises(ScrubRefused, match="the package is encrypted"):
        clean(bytes(data), "locked.docx")


def test_damaged_package_fails() -> None:
    data = docx()
    cut = data[: data.index(b"PK\x01\x02")] + data[data.index(b"PK\x05\x06"):]
    assert detect_media_type(data) == scrub.DOCX
    with pytest.raises(ScrubFailed, match="cannot be read as"):
        scrub._clean_package(cut, scrub.DOCX, "cut.docx")


# --- type detection, other types, keep_metadata ----------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"II*\x00rest", "image/tiff"),
        (b"MM\x00*rest", "image/tiff"),
        (b"%PDF-1.7", "application/pdf"),
        ("Менің ағам\n\tтұтқында.\r\n".encode(), "text/plain"),
        (b"", None),
        (b"\x00\x01binary", None),
        (b"text with a \x1b escape", None),
        (b"Note: my brother was taken\n", "text/plain"),
        (b'\xef\xbb\xbf  <svg xmlns="http://www.w3.org/2000/svg"><metadata/></svg>', None),
        (b"<!DOCTYPE html><html>", None),
        (b"Received: from [10.1.2.3] by mail.example\n", "message/rfc822"),
        (b"From someone@example.org Sat Nov 21 05:00:00 2026\n", "message/rfc822"),
        (b"mime-version: 1.0\n", "message/rfc822"),
        (b"From: Ayshe <a@example.org>\nTo: b@example.org\n\nhello\n", "message/rfc822"),
        (b"Note: they came at night\nDate: 2018\n\nhello\n", "text/plain"),
        (b"From: my village\n\nTo: whoever reads this\n", "text/plain"),
        (b"To: the working group\nFrom: Ayshe\n\nDear members,\n", "text/plain"),
        (b"From: Ayshe\nTo: the group,\n bob@example.org\n\nhello\n", "message/rfc822"),
        (b"Subject: my brother\n  continued\nX-Mailer: Outlook\n", "message/rfc822"),
        (b"\xc3\x28 invalid utf-8", None),
        (b"PK\x03\x04 not really a zip", None),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00", "image/gif"),
        (b"\x00\x00\x00\x18ftypheic", None),
    ],
)
def test_detect_media_type(data: bytes, expected: str | None) -> None:
    assert detect_media_type(data) == expected


def test_detection_ignores_the_file_name() -> None:
    # A JPEG named .txt is still cleaned as a JPEG; a text file named .jpg stays text.
    assert clean(jpeg_with_everything(), "innocent.txt").media_type == "image/jpeg"
    assert clean(b"hello\n", "photo.jpg").media_type == "text/plain"


def test_plain_zip_and_strange_odf_mimetype_are_unknown() -> None:
    assert detect_media_type(zip_bytes([("a.txt", "x")])) is None
    assert detect_media_type(zip_bytes([("mimetype", "application/x-evil<script>")])) is None
    assert detect_media_type(zip_bytes([("mimetype", "a" * 300)])) is None
    assert detect_media_type(zip_bytes([("[Content_Types].xml", "<Types/>")])) is None


def test_text_passes_through_unchanged() -> None:
    text = "ئاكام 2018-يىلى\n".encode()
    assert clean(text, "note.txt") == Cleaned(text, "text/plain", sha256(text), sha256(text),
                                              False)


@pytest.fixture
def no_mat2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


def test_unknown_type_is_refused_without_mat2(no_mat2: None) -> None:
    with pytest.raises(ScrubRefused) as caught:
        clean(HEIC, "family.heic")
    message = str(caught.value)
    assert message.startswith("family.heic: amanat cannot remove metadata from this type")
    assert "--keep-metadata" in message


def test_keep_metadata_passes_bytes_through_and_records_it(no_mat2: None) -> None:
    original = jpeg_with_everything()
    kept = clean(original, "where-it-happened.jpg", keep_metadata=True)
    assert kept == Cleaned(original, "image/jpeg", sha256(original), sha256(original), True)
    assert clean(MP4, "clip.mp4", keep_metadata=True).media_type == "video/mp4"
    assert clean(MP4, "no-extension", keep_metadata=True).media_type == (
        "application/octet-stream"
    )


class ReadCounting(io.BytesIO):
    """A file that remembers the most bytes one read() returned."""

    largest = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.largest = max(self.largest, len(data))
        return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (("ئاكام " * 9 + "\n").encode(), "text/plain"),  # characters cut by the pieces
        (b" " * 40 + b"<svg/>", None),  # markup after more white space than the prefix
        (b"\n" * 40 + b"Received: from x\n", "message/rfc822"),
        (b"plain words " * 5 + b"\x1b", None),  # a control byte in a late piece
        ("ئاكام".encode() + b"\xd8", None),  # ends inside a character
        (b"a" * 40 + b"<svg/>", "text/plain"),  # markup later on is just text
    ],
)
def test_text_is_detected_in_pieces(monkeypatch: pytest.MonkeyPatch, data: bytes,
                                    expected: str | None) -> None:
    monkeypatch.setattr(scrub, "_PIECE", 7)
    monkeypatch.setattr(scrub, "_TEXT_PREFIX", 16)
    file = ReadCounting(data)
    assert scrub.detect_file_type(file) == expected
    assert file.largest <= 16  # the 16-byte head, then pieces of 7


def test_clean_file_measures_what_it_seals_unchanged_in_pieces(
        monkeypatch: pytest.MonkeyPatch, no_mat2: None) -> None:
    monkeypatch.setattr(scrub, "_PIECE", 4096)
    video = MP4 + os.urandom(100_000)
    text = "ئاكام 2018-يىلى\n".encode() * 1000
    for data, name, keep, expected in [
        (video, "clip.mp4", True, scrub.Unchanged("video/mp4", len(video), sha256(video), True)),
        (text, "note.txt", False, scrub.Unchanged("text/plain", len(text), sha256(text), False)),
        (text, "note.txt", True, scrub.Unchanged("text/plain", len(text), sha256(text), True)),
    ]:
        file = ReadCounting(data)
        assert scrub.clean_file(file, name, keep_metadata=keep) == expected
        assert file.largest <= 4096


def test_clean_file_cleans_the_rest_as_clean_does(no_mat2: None) -> None:
    original = jpeg_with_everything()
    cleaned = scrub.clean_file(io.BytesIO(original), "p.jpg")
    assert cleaned == clean(original, "p.jpg")
    assert isinstance(cleaned, Cleaned) and cleaned.repeatable
    assert scrub.clean_file(io.BytesIO(original), "p.jpg") == cleaned  # the same bytes again
    unknown = ReadCounting(HEIC + bytes(3_000_000))
    with pytest.raises(ScrubRefused, match=r"family\.heic: amanat cannot remove metadata"):
        scrub.clean_file(unknown, "family.heic")
    assert unknown.largest < 3_000_000  # refused before the whole file was read


def fake_mat2(directory: Path, script: str) -> None:
    directory.mkdir(exist_ok=True)
    tool = directory / "mat2"
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def mat2_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    monkeypatch.setenv("PATH", str(directory))
    return directory


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm")
def test_mat2_cleans_other_types_in_memory(mat2_dir: Path) -> None:
    # The stand-in records where it was called and writes <name>.cleaned.<ext> as mat2 does.
    fake_mat2(mat2_dir, 'f="$2"; echo "$f" > "' + str(mat2_dir) + '/seen"\n'
              'printf cleaned > "${f%.*}.cleaned.${f##*.}"\n')
    result = clean(MP4, "Clip.MP4")
    assert result == Cleaned(b"cleaned", "video/mp4", sha256(MP4), sha256(b"cleaned"), False)
    assert not result.repeatable  # mat2's output is not ours to promise
    seen = Path((mat2_dir / "seen").read_text().strip())
    assert seen.name == "attachment.mp4"
    assert str(seen).startswith("/dev/shm/amanat-")
    assert not seen.parent.exists()  # removed at once


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm")
def test_mat2_failure_is_reported(mat2_dir: Path) -> None:
    fake_mat2(mat2_dir, 'echo "[-] unsupported format" >&2\nexit 1\n')
    with pytest.raises(ScrubRefused, match=r"x.bin: mat2 could not clean this file "
                                           r"\(\[-\] unsupported format\)"):
        clean(b"\x00\x01\x02", "x.bin")
    fake_mat2(mat2_dir, "exit 0\n")  # claims success, writes nothing
    with pytest.raises(ScrubRefused, match=r"mat2 could not clean this file \(no reason\)"):
        clean(b"\x00\x01\x02", "x.bin")


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm")
def test_mat2_that_hangs_is_stopped(mat2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_mat2(mat2_dir, f"exec {SLEEP} 30\n")
    monkeypatch.setattr(scrub, "MAT2_TIMEOUT_SECONDS", 0.3)
    with pytest.raises(ScrubFailed, match=r"mat2 took longer than 0\.3 s"):
        clean(b"\x00\x01\x02", "x.bin")


def test_mat2_needs_a_memory_backed_directory(
    mat2_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_mat2(mat2_dir, "exit 0\n")
    monkeypatch.setattr(scrub, "_MEMORY_DIR", str(tmp_path / "no-shm"))
    with pytest.raises(ScrubRefused, match="needs a memory-backed temporary directory"):
        clean(b"\x00\x01\x02", "x.bin")


def test_errors_are_value_errors() -> None:
    assert issubclass(ScrubRefused, scrub.ScrubError)
    assert issubclass(ScrubFailed, scrub.ScrubError)
    assert issubclass(scrub.ScrubError, ValueError)


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm")
def test_mat2_is_not_handed_the_codename_or_a_passphrase(
        mat2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`submit --reuse-codename` with AMANAT_CODENAME set runs mat2 on attachments: the
    codename must not be in its environment (nor in that of anything mat2 starts)."""
    monkeypatch.setenv("AMANAT_CODENAME", "legal winner thank year wave sausage worth "
                                          "useful legal winner thank yellow")
    monkeypatch.setenv("AMANAT_PASSPHRASE", "correct horse")
    fake_mat2(mat2_dir, 'f="$2"; export -p > "' + str(mat2_dir) + '/env"\n'
              'printf cleaned > "${f%.*}.cleaned.${f##*.}"\n')
    clean(MP4, "clip.mp4")
    seen = (mat2_dir / "env").read_text()
    assert "PATH=" in seen
    assert "AMANAT_" not in seen and "legal winner" not in seen and "horse" not in seen


# --- e-mail ----------------------------------------------------------------------------------

MAIL_CANARIES = (b"10.20.30.40", b"mail.ayshe-home.example", b"ayshe.tursun@example.org")
MAIL = (
    b"From: Ayshe <ayshe.tursun@example.org>\n"
    b"Received: from mail.ayshe-home.example ([10.20.30.40]) by mx.example.org\n"
    b"X-Originating-IP: [10.20.30.40]\n"
    b"Subject: my brother\n\n"
    b"They took him in 2018.\n"
)


def test_email_is_refused_not_passed_as_text(no_mat2: None) -> None:
    assert detect_media_type(MAIL) == "message/rfc822"
    for cleaner in (lambda: clean(MAIL, "letter.txt"),
                    lambda: scrub.clean_file(io.BytesIO(MAIL), "letter.txt")):
        with pytest.raises(ScrubRefused) as caught:
            cleaner()
        assert str(caught.value) == (
            "letter.txt: this is an e-mail message, whose headers name the people and "
            "computers it passed through; copy the text of the message into the statement "
            "instead, or send it unchanged with its headers (--keep-metadata)")


def test_email_with_its_headers_kept_knowingly(no_mat2: None) -> None:
    kept = scrub.clean_file(io.BytesIO(MAIL), "letter.txt", keep_metadata=True)
    assert kept == scrub.Unchanged("message/rfc822", len(MAIL), sha256(MAIL), True)


def sealing_roster(directory: Path) -> str:
    """A signed roster file in ``directory``; returns the organization's verifier key."""
    org = OrgKey.generate("amanat.example/org")
    reader = InvestigatorIdentity.generate("Reader")
    roster = Roster.empty(org.origin).with_added([reader.card()]).with_expiry(
        utc_today() + timedelta(days=30))
    (directory / "roster.txt").write_text(sign_roster(roster, *org.signers()))
    return org.vkey()


def seal_attachment(directory: Path, attachment: Path, capsys: pytest.CaptureFixture[str],
                    *extra: str) -> tuple[int, str]:
    org = sealing_roster(directory)
    (directory / "statement.txt").write_text("what I saw\n")
    status = main(["seal", "--roster", str(directory / "roster.txt"), "--org", org,
                   "--statement", str(directory / "statement.txt"), "--no-reply",
                   "-o", str(directory / "sealed.age"), *extra, str(attachment)])
    return status, capsys.readouterr().err


def test_seal_refuses_an_email_with_one_line(tmp_path: Path, no_mat2: None,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "letter.txt").write_bytes(MAIL)
    status, stderr = seal_attachment(tmp_path, tmp_path / "letter.txt", capsys, "--attach")
    assert status != 0
    assert stderr == (
        "amanat: letter.txt: this is an e-mail message, whose headers name the people and "
        "computers it passed through; copy the text of the message into the statement "
        "instead, or send it unchanged with its headers (--keep-metadata)\n")
    assert not (tmp_path / "sealed.age").exists()
    status, _ = seal_attachment(tmp_path, tmp_path / "letter.txt", capsys, "--keep-metadata")
    assert status == 0 and (tmp_path / "sealed.age").exists()


# --- PDF images under every filter form, embedded files --------------------------------------

def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()


def pdf_with_image(image_data: bytes, **image_keys: object) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(100, 100))
    image = pikepdf.Stream(pdf, image_data, Type=pikepdf.Name.XObject,
                           Subtype=pikepdf.Name.Image, Width=16, Height=16,
                           ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8)
    for key, value in image_keys.items():
        image[f"/{key}"] = value
    page = pdf.pages[0].obj
    page["/Resources"] = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page["/Contents"] = pdf.make_indirect(pikepdf.Stream(pdf, b"q 16 0 0 16 0 0 cm /Im0 Do Q"))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def cleaned_pdf_image(data: bytes) -> tuple[pikepdf.Pdf, pikepdf.Object, bytes]:
    """The image's dictionary and its encoded bytes (JPEG, JPEG 2000 or raw pixels)."""
    result = clean(data, "scan.pdf")
    everything = all_pdf_bytes(result.data)
    for canary in (GPS_CANARY.encode(), SECRET.encode(), b"Huawei", b"Exif", b"xmpmeta"):
        assert canary not in everything, canary
    pdf = pikepdf.open(io.BytesIO(result.data))
    image = pdf.pages[0].Resources.XObject.Im0
    # An image filter is all that is left: its raw bytes are what a reader decodes.
    if image.get("/Filter") in (pikepdf.Name.DCTDecode, pikepdf.Name.JPXDecode,
                                pikepdf.Array([pikepdf.Name.DCTDecode]),
                                pikepdf.Array([pikepdf.Name.JPXDecode])):
        return pdf, image, image.read_raw_bytes()
    return pdf, image, image.read_bytes()


@pytest.mark.parametrize(
    ("keys", "outer"),
    [
        ({"Filter": pikepdf.Array([pikepdf.Name.DCTDecode])}, None),
        ({"Filter": pikepdf.Name.DCTDecode,
          "DecodeParms": pikepdf.Dictionary(ColorTransform=1)}, None),
        ({"Filter": pikepdf.Array([pikepdf.Name.DCTDecode]),
          "DecodeParms": pikepdf.Array([pikepdf.Dictionary(ColorTransform=1)])}, None),
        ({"Filter": pikepdf.Array([pikepdf.Name.FlateDecode, pikepdf.Name.DCTDecode]),
          "DecodeParms": pikepdf.Array([None, pikepdf.Dictionary(ColorTransform=1)])}, "flate"),
        ({"Filter": pikepdf.Array([pikepdf.Name.ASCIIHexDecode, pikepdf.Name.DCTDecode])},
         "hex"),
    ],
    ids=["array", "name-with-parms", "array-with-parms", "flate-then-dct", "hex-then-dct"],
)
def test_pdf_jpeg_loses_exif_gps_under_any_filter_form(keys: dict[str, object],
                                                      outer: str | None) -> None:
    jpeg = jpeg_with_gps_canary()
    encoded = {None: jpeg, "flate": zlib.compress(jpeg), "hex": jpeg.hex().encode() + b">"}
    original = pdf_with_image(encoded[outer], **keys)
    _, image, stripped = cleaned_pdf_image(original)
    assert image.Filter in (pikepdf.Name.DCTDecode, pikepdf.Array([pikepdf.Name.DCTDecode]))
    if "DecodeParms" in keys:
        assert image.DecodeParms.ColorTransform == 1
    assert jpeg.endswith(stripped[stripped.index(b"\xff\xda"):])  # scan data bit-exact
    assert pixels(stripped) == pixels(jpeg)  # lossless
    with Image.open(io.BytesIO(stripped)) as decoded:
        assert len(decoded.getexif()) == 0


def test_pdf_image_loses_its_xmp_stream() -> None:
    original = pdf_with_image(bytes(16 * 16 * 3))
    with pikepdf.open(io.BytesIO(original)) as doc:  # an uncompressed image with XMP
        image = doc.pages[0].Resources.XObject.Im0
        image.Metadata = doc.make_indirect(pikepdf.Stream(doc, XMP))
        buffer = io.BytesIO()
        doc.save(buffer)
    assert SECRET.encode() in all_pdf_bytes(buffer.getvalue())
    _, image, data = cleaned_pdf_image(buffer.getvalue())
    assert "/Metadata" not in image
    assert data == bytes(16 * 16 * 3)


def jp2_with_boxes() -> tuple[bytes, bytes]:
    out = io.BytesIO()
    picture(size=(16, 16)).save(out, "JPEG2000", irreversible=False)
    plain = out.getvalue()
    xml_box = b"xml " + XMP
    uuid_box = b"uuid" + b"\xbe\x7a\xcf\xcb\x97\xa9\x42\xe8\x9c\x71\x99\x94\x91\xe3\xaf\xac" + (
        GPS_CANARY.encode())
    boxes = b"".join((len(box) + 4).to_bytes(4, "big") + box for box in (xml_box, uuid_box))
    codestream = plain.index(b"jp2c") - 4
    return plain[:codestream] + boxes + plain[codestream:], plain


@pytest.mark.skipif(not features.check("jpg_2000"), reason="Pillow built without OpenJPEG")
def test_pdf_jpeg2000_loses_xml_and_uuid_boxes() -> None:
    jp2, plain = jp2_with_boxes()
    assert pixels(jp2) == pixels(plain)
    original = pdf_with_image(jp2, Filter=pikepdf.Array([pikepdf.Name.JPXDecode]))
    _, _, stripped = cleaned_pdf_image(original)
    assert stripped == plain
    assert pixels(stripped) == pixels(jp2)


def test_jp2_box_stripper_leaves_malformed_data_alone() -> None:
    signature = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
    for data in (b"\xff\x4f\xff\x51 bare codestream", signature + b"\x00\x00\x00\x04xml ",
                 signature + b"\x00\x00\x00\x40jp2c short"):
        assert scrub._strip_jp2_boxes(data) == data
    large = signature + b"\x00\x00\x00\x01xml " + (24).to_bytes(8, "big") + b"12345678" + (
        b"\x00\x00\x00\x00jp2c" + b"rest")
    assert scrub._strip_jp2_boxes(large) == signature + b"\x00\x00\x00\x00jp2crest"


def embedded_file_pdf(where: str) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(100, 100))
    stream = pdf.make_indirect(pikepdf.Stream(pdf, jpeg_with_gps_canary(),
                                              Type=pikepdf.Name.EmbeddedFile))
    spec = pikepdf.Dictionary(Type=pikepdf.Name.Filespec,
                              F=r"C:\Users\ayshe.tursun\Pictures\IMG_0001.jpg",
                              EF=pikepdf.Dictionary(F=stream))
    if where == "names":
        pdf.Root.Names = pikepdf.Dictionary(EmbeddedFiles=pikepdf.Dictionary(
            Names=pikepdf.Array(["IMG_0001.jpg", pdf.make_indirect(spec)])))
    else:  # an annotation written directly in the page's /Annots
        pdf.pages[0].obj.Annots = pikepdf.Array([pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment,
            Rect=[0, 0, 10, 10], FS=spec)])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize("where", ["names", "annotation"])
def test_pdf_with_embedded_files_is_refused(where: str) -> None:
    with pytest.raises(ScrubRefused) as caught:
        clean(embedded_file_pdf(where), "report.pdf")
    assert str(caught.value) == (
        "report.pdf: the PDF carries files inside it (embedded files or file attachments), "
        "which amanat cannot clean; save each of them and send it as an attachment of its "
        "own, with the PDF saved without them, or send the PDF unchanged with its metadata "
        "(--keep-metadata)")


def test_office_document_with_macros_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(OVERRIDES, "word/document.xml",
                        "application/vnd.ms-word.document.macroEnabled.main+xml")
    with pytest.raises(ScrubRefused, match=r"macros\.docm: the main part has a type amanat "
                                           r"cannot clean \(a document with macros\?\)"):
        clean(docx(), "macros.docm")


@pytest.mark.parametrize("filters", [b"/F /DCT", b"/F [/AHx /DCT]", b"/Filter /DCTDecode"])
def test_pdf_inline_jpeg_loses_its_exif(filters: bytes) -> None:
    jpeg = jpeg_with_gps_canary(size=(4, 4))
    data = jpeg.hex().encode() + b">" if b"AHx" in filters else jpeg
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(100, 100))
    form = pikepdf.Stream(pdf, b"q 4 0 0 4 0 0 cm BI /W 4 /H 4 /CS /RGB /BPC 8 " + filters
                          + b" ID " + data + b" EI Q", Type=pikepdf.Name.XObject,
                          Subtype=pikepdf.Name.Form, BBox=[0, 0, 4, 4])
    page = pdf.pages[0]
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fm0=form))
    page.obj.Contents = pdf.make_stream(b"q 4 0 0 4 10 10 cm BI /W 4 /H 4 /CS /RGB /BPC 8 "
                                        + filters + b" ID " + data + b" EI Q /Fm0 Do")
    out = io.BytesIO()
    pdf.save(out)
    result = clean(out.getvalue(), "inline.pdf")
    everything = all_pdf_bytes(result.data)
    for canary in (GPS_CANARY.encode(), b"Exif", SECRET.encode()):
        assert canary not in everything, canary
    with pikepdf.open(io.BytesIO(result.data)) as cleaned:
        page = cleaned.pages[0]
        images = [i.iimage for i in pikepdf.parse_content_stream(page)
                  if isinstance(i, pikepdf.ContentStreamInlineImage)]
        images += [i.iimage for i in pikepdf.parse_content_stream(page.Resources.XObject.Fm0)
                   if isinstance(i, pikepdf.ContentStreamInlineImage)]
        assert len(images) == 2
        for image in images:
            stripped = image.read_raw_bytes()
            assert jpeg.endswith(stripped[stripped.index(b"\xff\xda"):].rstrip())
            assert pixels(stripped) == pixels(jpeg)


def test_seal_refuses_a_pdf_with_embedded_files_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "report.pdf").write_bytes(embedded_file_pdf("names"))
    status, stderr = seal_attachment(tmp_path, tmp_path / "report.pdf", capsys, "--attach")
    assert status != 0
    assert stderr == (
        "amanat: report.pdf: the PDF carries files inside it (embedded files or file "
        "attachments), which amanat cannot clean; save each of them and send it as an "
        "attachment of its own, with the PDF saved without them, or send the PDF unchanged "
        "with its metadata (--keep-metadata)\n")
    assert not (tmp_path / "sealed.age").exists()


@pytest.mark.parametrize("make", [docx, xlsx, pptx, odt], ids=["docx", "xlsx", "pptx", "odt"])
def test_office_cleaning_is_repeatable(make: object) -> None:
    """A cleaned file that does not fit in the memory set aside is cleaned again when sealed
    (`vault.witness`): the same bytes must come out."""
    original = make()  # type: ignore[operator]
    first = scrub.clean_file(io.BytesIO(original), "a")
    assert isinstance(first, Cleaned) and first.repeatable
    assert scrub.clean_file(io.BytesIO(original), "b") == first


def test_pdf_keeps_only_links_inside_the_document_or_to_the_web() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(100, 100))
    path = f"C:\\Users\\{USER}\\Documents\\camps.pdf"

    def link(action: pikepdf.Dictionary) -> pikepdf.Dictionary:
        return pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link,
                                  Rect=[0, 0, 10, 10], A=action)

    pdf.pages[0].obj.Annots = pikepdf.Array([
        link(pikepdf.Dictionary(S=pikepdf.Name.URI, URI="https://example.org/report")),
        link(pikepdf.Dictionary(S=pikepdf.Name.URI, URI=f"file:///{path}")),
        link(pikepdf.Dictionary(S=pikepdf.Name.GoToR, F=path, D=[0, pikepdf.Name.Fit])),
        link(pikepdf.Dictionary(S=pikepdf.Name.Launch, F=path)),
        link(pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=[pdf.pages[0].obj, pikepdf.Name.Fit],
                                Next=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=path))),
    ])
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=f"app.alert('{SECRET}')"))
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=path)
    attributes = pikepdf.Dictionary(O=pikepdf.Name.Layout, Placement=pikepdf.Name.Block)
    element = pikepdf.Dictionary(Type=pikepdf.Name.StructElem, S=pikepdf.Name.P, A=attributes)
    pdf.Root.StructTreeRoot = pikepdf.Dictionary(Type=pikepdf.Name.StructTreeRoot,
                                                 K=pdf.make_indirect(element))
    out = io.BytesIO()
    pdf.save(out)
    result = clean(out.getvalue(), "links.pdf")
    everything = all_pdf_bytes(result.data)
    assert USER.encode() not in everything and SECRET.encode() not in everything
    with pikepdf.open(io.BytesIO(result.data)) as cleaned:
        annots = cleaned.pages[0].Annots
        assert len(annots) == 5  # the links stay, in their place; only where they lead goes
        assert str(annots[0].A.URI) == "https://example.org/report"
        assert ["/A" in a for a in annots] == [True, False, False, False, True]
        assert str(annots[4].A.S) == "/GoTo" and "/Next" not in annots[4].A
        assert "/AA" not in cleaned.pages[0] and "/OpenAction" not in cleaned.Root
        assert cleaned.Root.StructTreeRoot.K.A.Placement == "/Block"  # not an action


def odt_with_pictures(frames: str, pictures: dict[str, bytes]) -> bytes:
    content = (f"<office:document-content {ODF_NAMESPACES}><office:body><office:text>"
               f"{frames}</office:text></office:body></office:document-content>")
    return zip_bytes([("mimetype", "application/vnd.oasis.opendocument.text"),
                      ("content.xml", content), *pictures.items()], stored_first=True)


SVG = f"<svg xmlns='http://www.w3.org/2000/svg'><metadata>{SECRET}</metadata></svg>".encode()


def test_odt_picture_with_a_fallback_keeps_the_fallback() -> None:
    frame = ("<draw:frame><draw:image xlink:href='Pictures/a.svg'/>"
             "<draw:image xlink:href='Pictures/a.png'/></draw:frame>")
    data = odt_with_pictures(frame, {"Pictures/a.svg": SVG, "Pictures/a.png": _png_with_text(),
                                     "Pictures/unused.svm": b"VCLMTF " + SECRET.encode()})
    parts = unzip(clean(data, "letter.odt").data)
    assert sorted(parts) == ["Pictures/a.png", "content.xml", "mimetype"]
    assert b"a.svg" not in parts["content.xml"] and b"Pictures/a.png" in parts["content.xml"]
    assert SECRET.encode() not in b"".join(parts.values())


def test_odt_picture_that_cannot_be_cleaned_is_refused() -> None:
    frame = "<draw:frame><draw:image xlink:href='Pictures/chart.svm'/></draw:frame>"
    data = odt_with_pictures(frame, {"Pictures/chart.svm": b"VCLMTF " + SECRET.encode()})
    with pytest.raises(ScrubRefused, match=r"^letter\.odt: Pictures/chart\.svm: an embedded "
                                           r"object or picture of a type amanat cannot clean"):
        clean(data, "letter.odt")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (lambda: package("word/document.xml", [("word/document.xml", f"<w:document xmlns:w="
                                                                    f"'{W}'><w:body>")]),
         r"word/document\.xml: not well-formed XML"),
        (lambda: package("word/document.xml", [("word/document.xml", "<html/>")]),
         r"word/document\.xml: not a part of an office document \(none\)"),
        (lambda: zip_bytes([("mimetype", "application/vnd.oasis.opendocument.text"),
                            ("content.xml", "<html xmlns='http://www.w3.org/1999/xhtml'/>")],
                           stored_first=True),
         r"content\.xml: not a part of an OpenDocument file"),
        (lambda: zip_bytes([("mimetype", "application/vnd.oasis.opendocument.text"),
                            ("META-INF/manifest.xml", "<manifest/>")], stored_first=True),
         r"META-INF/manifest\.xml: not an OpenDocument manifest"),
    ],
    ids=["not-xml", "foreign-root", "odf-foreign-root", "odf-manifest"],
)
def test_office_parts_that_are_not_what_they_claim_fail(data: object, message: str) -> None:
    with pytest.raises(ScrubFailed, match=message):
        clean(data(), "broken")  # type: ignore[operator]


def test_encrypted_opendocument_is_refused() -> None:
    manifest = (
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:'
        '1.0"><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/>'
        "</manifest:file-entry></manifest:manifest>")
    data = zip_bytes([("mimetype", "application/vnd.oasis.opendocument.text"),
                      ("META-INF/manifest.xml", manifest), ("content.xml", b"\x93\x11")],
                     stored_first=True)
    with pytest.raises(ScrubRefused, match=r"^locked\.odt: the document is encrypted; remove "
                                           r"the password first, or send it unchanged"):
        clean(data, "locked.odt")


def test_office_thumbnail_picture_is_cleaned_and_others_go() -> None:
    relationships = PACKAGE_RELS.replace("</Relationships>", (
        '<Relationship Id="rId5" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/thumbnail" Target="docProps/thumbnail.jpeg"/></Relationships>'))
    original = docx(("docProps/thumbnail.jpeg", jpeg_with_gps_canary()))
    parts = unzip_raw(original)
    parts["_rels/.rels"] = relationships.replace("{main}", "word/document.xml").encode()
    result = unzip(clean(zip_bytes(list(parts.items())), "with-thumbnail.docx").data)
    assert_no_office_canaries(result)
    assert "docProps/thumbnail.jpeg" in result and "docProps/thumbnail.emf" not in result
    assert b"thumbnail.jpeg" in result["_rels/.rels"]
    assert b"thumbnail.emf" not in result["_rels/.rels"]
    with Image.open(io.BytesIO(result["docProps/thumbnail.jpeg"])) as image:
        assert len(image.getexif()) == 0


MEMORY_PROBE = r"""
import io, resource, sys, zipfile
from vault.scrub import clean
rows = int(sys.argv[1])
sheet = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>name {r}</t></is></c>'
                f'<c r="B{r}"><v>{r}</v></c></row>' for r in range(1, rows + 1))
main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
types = "application/vnd.openxmlformats-officedocument.spreadsheetml."
rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
out = io.BytesIO()
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/'
               'package/2006/content-types"><Default Extension="rels" ContentType="application'
               '/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/xl/'
               f'workbook.xml" ContentType="{types}sheet.main+xml"/><Override PartName="/xl/'
               f'worksheets/sheet1.xml" ContentType="{types}worksheet+xml"/></Types>')
    z.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package'
               f'/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" '
               'Target="xl/workbook.xml"/></Relationships>')
    z.writestr("xl/workbook.xml", f'<workbook xmlns="{main}"/>')
    z.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{main}"><sheetData>{sheet}'
               "</sheetData></worksheet>")
data = out.getvalue()
del sheet, out
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = clean(data, "big.xlsx")
assert b"name 50000" in zipfile.ZipFile(io.BytesIO(result.data)).read("xl/worksheets/sheet1.xml")
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_a_large_sheet_is_cleaned_in_little_memory() -> None:
    """50,000 rows (4 MB of XML, 400,000 elements) would take about 150 MiB as an XML tree;
    cleaned as a stream, the process grows by a few MiB (the cleaned output)."""
    probe = subprocess.run([sys.executable, "-c", MEMORY_PROBE, "50000"], capture_output=True,
                           text=True, check=True, timeout=300)
    assert int(probe.stdout) < 40, f"grew by {probe.stdout.strip()} MiB"


@pytest.mark.parametrize(("data", "media_type", "what"), [
    (rb"{\rtf1\ansi{\info{\author Aygul Tursun}{\creatim\yr2019}}Text}", "application/rtf",
     "an RTF document"),
    (b"%!PS-Adobe-3.0\n%%For: aygul\n%%CreationDate: 2019\n", "application/postscript",
     "a PostScript file"),
    (b"BEGIN:VCARD\nVERSION:3.0\nFN:Aygul\nPHOTO;ENCODING=b:AAAA\nEND:VCARD\n", "text/x-vcard",
     "a contact card"),
    (b"begin:vcalendar\nUID:1@laptop-of-aygul\nend:vcalendar\n", "text/calendar",
     "a calendar file"),
])
def test_text_that_carries_its_writers_metadata_is_not_plain_text(
        data: bytes, media_type: str, what: str) -> None:
    """RTF, PostScript, vCard and iCalendar are text, but hold the writer's name, account,
    times or photos inside: refused like e-mail, sent only with --keep-metadata."""
    assert detect_media_type(data) == media_type
    with pytest.raises(ScrubRefused, match=what):
        clean(data, "notes.txt")
    with pytest.raises(ScrubRefused, match=what):
        clean_file(io.BytesIO(data), "notes.txt")
    kept = clean(data, "notes.txt", keep_metadata=True)
    assert kept.data == data and kept.kept_metadata and kept.media_type == media_type
