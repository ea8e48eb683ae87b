//! Every format Assay recognises, one module each, registered in [`registry`].
//!
//! Order matters only where two formats claim the same offset: the first to probe
//! successfully wins, so put specific formats before generic ones.

use crate::format::Format;

pub mod alphanetworks;
pub mod ambarella_romfs;
pub mod android_boot;
pub mod android_sparse;
pub mod ar;
pub mod arcadyan;
pub mod arj;
pub mod arm_zimage;
pub mod avm_eva;
pub mod avm_sqfs_fake;
pub mod bcm_tag;
pub mod blake2sp;
pub mod bneg;
pub mod bosch;
pub mod broadcom_sao;
pub mod bsd;
pub mod buffalo;
pub mod bzip2;
pub mod cab;
pub mod cfe;
pub mod chk;
pub mod cms_signed;
pub mod compress;
pub mod cpio;
pub mod cramfs;
pub(crate) mod crc32_msb;
pub mod csman;
pub mod dlink_encrpted;
pub mod dlink_mh01;
pub mod dlink_shrs;
pub mod ecos;
pub mod erofs;
pub mod ext;
pub mod fat;
pub mod fdt;
pub(crate) mod firmware_code;
pub mod gpt;
pub mod grain_media;
pub mod gzip;
pub mod hilink;
pub mod hwnp;
pub mod ihex;
pub mod img0;
pub mod iso9660;
pub mod jffs2;
pub mod jffs2_eof;
pub mod luks;
pub mod lz4;
pub mod lzip;
pub mod lzma;
pub mod lzop;
pub mod matter_ota;
pub mod maxlinear_uimg;
pub mod mbr;
pub(crate) mod member_name;
pub mod minix;
pub mod npk;
pub mod ntfs;
pub mod owfs;
pub mod program_store;
pub mod rar;
pub mod rar_ppmd;
pub mod rar_v3_decode;
pub mod rar_v5_decode;
pub mod realtek;
pub mod romfs;
pub mod ros;
pub mod seama;
pub mod senao;
pub mod sevenz;
pub mod squashfs;
pub mod srec;
pub(crate) mod streamout;
pub mod swap;
pub mod tar;
pub mod tenvis_pk2;
pub mod threadx;
pub mod tplink;
pub mod trx;
pub mod ubi;
pub mod ubifs;
pub mod ubnt;
pub mod uboot_env;
pub mod uimage;
pub mod vxworks;
pub mod xiaomi_hdr;
pub mod xor;
pub mod xz;
pub mod yaffs2;
pub mod zip;
pub(crate) mod zip_crypto;
pub mod zlib;
pub mod zstd;
pub mod zynos;

#[cfg(test)]
pub(crate) mod testutil;

/// The registered formats, in probe priority order.
pub fn registry() -> Vec<&'static dyn Format> {
    vec![
        // Filesystems and archives first: they validate strongly and claim whole regions.
        &ubi::Ubi,
        &ubifs::Ubifs,
        &uimage::UImage,
        &arm_zimage::ArmZimage,
        &fdt::Fit,
        &fdt::Fdt,
        &trx::Trx,
        &uboot_env::UBootEnv,
        &jffs2_eof::Jffs2Eof,
        &seama::Seama,
        &senao::Senao,
        &buffalo::Buffalo,
        &xiaomi_hdr::XiaomiHdr,
        &tenvis_pk2::TenvisPk2,
        &csman::Csman,
        &program_store::ProgramStore,
        &matter_ota::MatterOta,
        &grain_media::Gm8126,
        &alphanetworks::AlphaNetworks,
        &bneg::Bneg,
        &bosch::BoschFw,
        &ambarella_romfs::AmbarellaRomfs,
        &avm_sqfs_fake::AvmSqfsFake,
        &broadcom_sao::BroadcomSao,
        &maxlinear_uimg::MaxlinearUimg,
        &cms_signed::CmsSigned,
        &dlink_encrpted::DlinkEncrptedImg,
        &dlink_mh01::DlinkMh01,
        &hilink::HilinkEncrypted,
        &dlink_shrs::DlinkShrs,
        &avm_eva::AvmEva,
        &ubnt::Ubnt,
        &hwnp::Hwnp,
        &npk::Npk,
        &realtek::Realtek,
        &zynos::Zynos,
        &bcm_tag::BcmTag,
        &cfe::Cfe,
        &chk::Chk,
        &ros::Ros,
        &tplink::TpLink,
        &img0::Img0,
        &owfs::Owfs,
        &ihex::IHex,
        &srec::SRec,
        &arcadyan::Arcadyan,
        &swap::Swap,
        &xor::Xor,
        &squashfs::Squashfs,
        &cramfs::Cramfs,
        &romfs::Romfs,
        &jffs2::Jffs2,
        &yaffs2::Yaffs2,
        &tar::Tar,
        &zip::Zip,
        &cpio::Cpio,
        &sevenz::SevenZ,
        &ar::Ar,
        &cab::Cab,
        &arj::Arj,
        &rar::Rar,
        // Disk images. File systems whose boot sector is sector 0 (ISO 9660 with a hybrid
        // MBR, NTFS, FAT) before partition tables, whose `55 AA` also ends every such boot
        // sector. Partition tables before the file systems that leave their first 1024 bytes
        // to a boot block (ext, minix, erofs): mkfs zeroes that block, so a valid table in it
        // was written after the file system, whose superblock at 1024 is then stale.
        &luks::Luks,
        &iso9660::Iso9660,
        &ntfs::NtfsVolume,
        &fat::Fat,
        &bsd::BsdLabel,
        &gpt::Gpt,
        &mbr::Mbr,
        &ext::Ext,
        &minix::Minix,
        &erofs::Erofs,
        &android_sparse::AndroidSparse,
        &android_boot::AndroidBoot,
        // Compressed streams.
        &gzip::Gzip,
        &xz::Xz,
        &bzip2::Bzip2,
        &zstd::Zstd,
        &lz4::Lz4,
        &lzop::Lzop,
        &compress::Compress,
        &lzip::Lzip,
        &zlib::Zlib,
        // Last: lzma has no real magic.
        &lzma::Lzma,
        // Operating-system images: described as a whole, never claimed at an offset.
        &vxworks::VxWorks,
        &ecos::Ecos,
        &threadx::ThreadX,
    ]
}
